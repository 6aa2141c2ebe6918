"""A slider's drag to its new picture, drawn by the browser's decoder and by the server's, side by side.

    python -m benchmarks.drag [--moves 200] [--smoke]

The app on 127.0.0.1 and Debian's Chromium (Playwright): Generate's first slider is moved `moves` times on
each page, one move after the last picture, and each move is timed in the page from the slider's input
event to its picture on the canvas (a MutationObserver on the canvas's drawn count): with the page's own
decoder (onnxruntime-web), and with ?draw=server, where every move goes to the server and back (the
page's way before, and its way where WebAssembly is missing). The same machine, the same run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from .load import App

TARGET_P95_MS = 20
MOVES = """async (n) => {
  const range = [...document.querySelectorAll('#views input[type=range]')].find((r) => r.offsetParent !== null);
  const canvas = document.querySelector('#generate-digit canvas');
  const times = [];
  for (let i = 0; i < n; i++) {
    const before = canvas.dataset.drawn;
    const drawn = new Promise((resolve) => {
      const seen = new MutationObserver(() => {
        if (canvas.dataset.drawn !== before) { seen.disconnect(); resolve(true); }
      });
      seen.observe(canvas, {attributes: true});
      setTimeout(() => { seen.disconnect(); resolve(false); }, 10000);
    });
    const started = performance.now();
    range.value = (-2.5 + 5 * ((i * 37) % 101) / 100).toFixed(2);
    range.dispatchEvent(new Event('input', {bubbles: true}));
    if (await drawn) times.push(performance.now() - started);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return times;
}"""


def drags(browser, url: str, moves: int) -> list[float]:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(url)
    page.wait_for_selector("#latent-map .js-plotly-plot", timeout=120_000)
    page.get_by_role("tab", name="Generate").first.click()
    page.wait_for_selector("#generate-digit canvas[data-drawn]", timeout=120_000)
    if "draw=server" not in url:
        deadline = time.time() + 120
        while not page.evaluate("() => window.vaeDraw.get('generate-digit').local"):
            if time.time() > deadline:
                raise RuntimeError("the browser's decoder never loaded")
            time.sleep(0.2)
    times = page.evaluate(MOVES, moves)
    page.close()
    return times


def summary(times: list[float]) -> str:
    p50, p95 = np.percentile(times, [50, 95])
    return f"{len(times)} moves, p50 {p50:.1f} ms, p95 {p95:.1f} ms, worst {max(times):.1f} ms"


def main(argv: list[str] | None = None) -> int:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(prog="python -m benchmarks.drag", description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=200)
    parser.add_argument("--smoke", action="store_true", help="a few moves: the script runs")
    parser.add_argument("--port", type=int, default=7941)
    args = parser.parse_args(argv)
    moves = 5 if args.smoke else args.moves
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    flags = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--no-first-run"]
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        app = App(Path(tmp), args.port)
        browser = p.chromium.launch(executable_path=chromium, args=flags)
        try:
            print(f"a Generate slider's move to its picture, {os.cpu_count()} CPU cores, headless Chromium")
            here = drags(browser, app.url, moves)
            there = drags(browser, app.url + "?draw=server", moves)
            print(f"drawn in the browser (onnxruntime-web, wasm, 1 thread): {summary(here)}; "
                  f"target p95 <= {TARGET_P95_MS} ms: {'met' if np.percentile(here, 95) <= TARGET_P95_MS else 'NOT met'}")
            print(f"drawn by the server (?draw=server): {summary(there)}")
            print(f"the server's round trip / the browser's, p95: {np.percentile(there, 95) / np.percentile(here, 95):.1f}x")
        finally:
            browser.close()
            app.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
