"""Serving latency: decoding, encoding, maps, app cold start and the page's first picture in a browser.

    python -m benchmarks.latency [--smoke] [--no-browser]

Every figure is measured here and now: p50/p95 over repeated runs where a figure repeats. The UMAP
timings run in a fresh process, so the first one includes numba's compilation as a visitor meets it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from vae_core import data, images, latent, load_model

ROOT = Path(__file__).resolve().parents[1]
MAIN = ROOT / "checkpoints" / "mnist-z32"


def percentiles(samples_ms: list[float]) -> str:
    a = np.array(samples_ms)
    return f"p50 {np.percentile(a, 50):7.2f} ms  p95 {np.percentile(a, 95):7.2f} ms  (n={len(a)})"


def timed(fn, repeats: int, warmup: int = 3) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def model_figures(n_points: int, repeats: int, test_images: torch.Tensor) -> None:
    model = load_model(MAIN)
    torch.set_grad_enabled(False)
    z1, z64 = torch.randn(1, model.latent_dim), torch.randn(64, model.latent_dim)
    print(f"decode one point (model.decode):       {percentiles(timed(lambda: model.decode(z1), repeats))}")
    print(f"decode one point to a PNG (the slider): "
          f"{percentiles(timed(lambda: images.png_bytes(images.upscale(images.to_uint8(latent.decode_images(model, z1))[0])), repeats))}")
    print(f"decode a batch of 64:                  {percentiles(timed(lambda: model.decode(z64), max(10, repeats // 5)))}")
    x = data.to_float(test_images[:n_points])
    t = timed(lambda: latent.encode_images(model, x), 3, warmup=1)
    print(f"encode {n_points} test images:            {percentiles(t)}")
    mu, _ = latent.encode_images(model, x)
    print(f"PCA of {n_points} codes:                  {percentiles(timed(lambda: latent.pca(mu), 5, warmup=1))}")


UMAP_CHILD = """
import sys, time, numpy as np
t0 = time.perf_counter()
from vae_core import latent
codes = np.load(sys.argv[1])
t1 = time.perf_counter(); latent.umap_embed(codes); t2 = time.perf_counter(); latent.umap_embed(codes); t3 = time.perf_counter()
print(f"{t2 - t1:.2f} {t3 - t2:.2f}")
"""


def umap_figures(n_points: int, test_images: torch.Tensor) -> None:
    model = load_model(MAIN)
    mu, _ = latent.encode_images(model, data.to_float(test_images[:n_points]))
    with tempfile.TemporaryDirectory() as tmp:
        np.save(Path(tmp) / "codes.npy", mu)
        out = subprocess.run([sys.executable, "-c", UMAP_CHILD, str(Path(tmp) / "codes.npy")], cwd=ROOT,
                             capture_output=True, text=True, check=True)
    first, warm = (float(v) for v in out.stdout.split()[-2:])
    print(f"UMAP of {n_points} codes: first {first:.1f} s (numba compiles), warm {warm:.1f} s")


def launch(port: int, log: Path) -> subprocess.Popen:
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}
    return subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=open(log, "w"), stderr=subprocess.STDOUT)


def wait_until_up(port: int, proc: subprocess.Popen, t0: float, timeout: float = 120) -> None:
    """Until the page answers (polled every 50 ms); raises if the app exits or takes longer than timeout."""
    from urllib.request import urlopen
    while True:
        try:
            urlopen(f"http://127.0.0.1:{port}/", timeout=1).read()
            return
        except OSError:
            if proc.poll() is not None or time.perf_counter() - t0 > timeout:
                raise RuntimeError("the app did not start") from None
            time.sleep(0.05)


def cold_start(port: int, runs: int) -> None:
    """Seconds from `python app.py` to the page answering, and to a first decode through the API."""
    from gradio_client import Client

    page, first = [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            proc = launch(port, Path(tmp) / "app.log")
            try:
                wait_until_up(port, proc, t0)
                page.append(time.perf_counter() - t0)
                Client(f"http://127.0.0.1:{port}/", verbose=False).predict("mnist-z32", [0.0] * 32, api_name="/decode")
                first.append(time.perf_counter() - t0)
            finally:
                proc.terminate()
                proc.wait(timeout=30)
    print(f"app cold start to a page that answers: median {statistics.median(page):.1f} s "
          f"(min {min(page):.1f}, max {max(page):.1f}, runs {runs}); to a first decode: median {statistics.median(first):.1f} s")


# The inked pixels of a plot's WebGL canvases (the main map draws its dots there), sampled every 4th pixel.
GL_INK = """(plot) => { let most = 0;
  (plot ? plot.querySelectorAll('.gl-container canvas') : []).forEach(c => {
    if (!c.width || !c.height) return;
    const copy = document.createElement('canvas'); copy.width = c.width; copy.height = c.height;
    const g = copy.getContext('2d'); g.drawImage(c, 0, 0);
    const d = g.getImageData(0, 0, c.width, c.height).data; let n = 0;
    for (let i = 3; i < d.length; i += 16) if (d[i] > 0) n++;
    most = Math.max(most, n); });
  return most; }"""
# Drawn: the map's dots on its canvas (over 500 inked pixels, as 10,000 dots give tens of thousands) and,
# for the 2-D map, the decoded digits under them.
MAP_DRAWN = """() => { const p = document.querySelector('#latent-map .js-plotly-plot');
  return !!p && !!p.querySelector('.imagelayer image') && (%s)(p) > 500; }""" % GL_INK
UMAP_DRAWN = """() => { const p = document.querySelector('#latent-map .js-plotly-plot');
  return !!p && p.innerText.includes('UMAP of the 32-D') && p._fullData.some(t => t.type === 'scattergl' && t.name === '0'
    && t.x.length > 500) && (%s)(p) > 500; }""" % GL_INK


def first_picture(port: int, visits: int) -> None:
    """Browser: from opening the page to the whole first picture (the 2-D map, its dots and the decoded
    digits under them), the first visit after the server is up and later ones; then from choosing UMAP
    (for the shipped main model) to the UMAP map."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    with tempfile.TemporaryDirectory() as tmp:
        proc = launch(port, Path(tmp) / "app.log")
        try:
            wait_until_up(port, proc, time.perf_counter())
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium, args=[
                    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync"])
                times, umap = [], []
                for _ in range(visits):
                    page = browser.new_page(viewport={"width": 1280, "height": 900})
                    t0 = time.perf_counter()
                    page.goto(f"http://127.0.0.1:{port}/")
                    page.wait_for_function(MAP_DRAWN, timeout=120_000, polling=50)
                    times.append(time.perf_counter() - t0)
                    page.locator(".block:has-text('Model') input").first.click()
                    page.get_by_role("option", name="mnist-z32 (32 numbers").first.click()
                    page.wait_for_function(UMAP_DRAWN, timeout=120_000, polling=50)  # a 32-D model opens on UMAP
                    page.get_by_text("PCA", exact=True).first.click()  # to PCA, then back: the switch measured
                    page.wait_for_function("() => document.body.innerText.includes('PCA of the 32-D')", timeout=60_000)
                    time.sleep(0.5)
                    t0 = time.perf_counter()
                    page.get_by_text("UMAP", exact=True).first.click()
                    page.wait_for_function(UMAP_DRAWN, timeout=120_000, polling=50)
                    umap.append(time.perf_counter() - t0)
                    page.close()
                browser.close()
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    later = f"; later visits: median {statistics.median(times[1:]):.2f} s" if len(times) > 1 else ""
    print(f"page to first complete picture: first visit after start {times[0]:.2f} s{later} (visits {visits})")
    print(f"UMAP of a shipped model, from choosing it to the map: median {statistics.median(umap):.2f} s "
          f"(max {max(umap):.2f} s, {len(umap)} times)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.latency", description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds")
    parser.add_argument("--no-browser", action="store_true", help="skip the page's first picture in Chromium")
    parser.add_argument("--port", type=int, default=7911)
    args = parser.parse_args(argv)
    test_images = data.load_mnist().test_images
    n, repeats, runs = (500, 20, 1) if args.smoke else (10000, 300, 3)
    print(f"CPU threads {torch.get_num_threads()}, torch {torch.__version__}, model {MAIN.name}")
    model_figures(n, repeats, test_images)
    umap_figures(n if args.smoke else 10000, test_images)
    cold_start(args.port, runs)
    if not args.no_browser:  # a slider's drag to its picture: benchmarks/drag.py, the browser's and the server's
        first_picture(args.port, 1 if args.smoke else 4)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
