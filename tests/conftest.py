"""Shared fixtures. Tests that need MNIST skip, saying why, when no data directory holds it."""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
torch.set_num_threads(min(2, os.cpu_count() or 1))

from vae_core import data  # noqa: E402

MAIN = "mnist-z32"  # the shipped main model
NO_DATA = ("MNIST not found: set VAE_DATA_DIR to a folder with the four IDX files "
           "(CI uses ../shared/data/mnist)")


@pytest.fixture(scope="session")
def mnist() -> data.MNIST:
    try:
        return data.load_mnist(download=False)
    except data.DataError as e:
        if os.environ.get("CI"):  # CI must run every test: a missing data directory is a failure there
            pytest.fail(f"{NO_DATA} ({e})")
        pytest.skip(f"{NO_DATA} ({e})")


@pytest.fixture(scope="session")
def data_dir(mnist) -> str:
    return str(data.resolve_data_dir())


def run_async(coroutine):
    """asyncio.run, in a thread of its own: in a test process where Playwright's synchronous API has started
    (the browser stories), the main thread already runs an event loop."""
    import asyncio
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The apps the tests start share one cache folder (the shipped models' codes, figures and decoders, kept by
# their weights' digests): each start's warm-up would otherwise spend 45 s of a core making them again.
SHARED_CACHE = Path(tempfile.mkdtemp(prefix="vae-test-cache-"))
atexit.register(shutil.rmtree, SHARED_CACHE, True)


def launch_app(tmp_dir: Path, data_dir: str | None, extra_env: dict | None = None, args: list[str] = ()):
    port = _free_port()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "VAE_RUNS_DIR": str(tmp_dir / "runs"),
           "VAE_CACHE_DIR": str(SHARED_CACHE), **(extra_env or {})}
    args = [sys.executable, "app.py", "--port", str(port), *args] + (["--data-dir", data_dir] if data_dir else [])
    log = open(tmp_dir / "app.log", "w")
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the app exited: {(tmp_dir / 'app.log').read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("the app did not start within 120 s")


@pytest.fixture(scope="session")
def app_server(tmp_path_factory, data_dir):
    """One app for every test that drives it from outside (gradio_client, Chromium): (url, its folder).
    Tests that train add models of their own visitors only, which no other visitor's menus list."""
    tmp = tmp_path_factory.mktemp("app")
    proc, url = launch_app(tmp, data_dir)
    yield url, tmp
    proc.terminate()
    proc.wait(timeout=30)


def picture_folder(root: Path, kinds=("circle", "bar"), each: int = 10, broken: bool = False) -> Path:
    """A folder of photos-to-be, one sub-folder per kind of shape ("circle", "bar", "triangle", "square"),
    dark on light, of assorted sizes, places and strokes; with `broken`, two files that are no usable
    image besides."""
    import numpy as np
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(0)
    for kind in kinds:
        (root / kind).mkdir(parents=True)
        for i in range(each):
            side = int(rng.integers(60, 400))
            im = Image.new("L", (side, side), 230)
            d = ImageDraw.Draw(im)
            lo, hi = rng.uniform(0.12, 0.3), rng.uniform(0.7, 0.88)
            box = [side * lo, side * lo, side * hi, side * hi]
            stroke = max(3, int(side * rng.uniform(0.05, 0.12)))
            if kind == "circle":
                d.ellipse(box, outline=20, width=stroke)
            elif kind == "square":
                d.rectangle(box, outline=20, width=stroke)
            elif kind == "triangle":
                d.line([(side / 2, side * lo), (side * hi, side * hi), (side * lo, side * hi), (side / 2, side * lo)],
                       fill=20, width=stroke, joint="curve")
            else:
                d.rectangle([side * 0.45, side * lo, side * 0.55, side * hi], fill=20)
            im.save(root / kind / f"{i}.{'png' if i % 2 else 'jpg'}")
    if broken:
        (root / kinds[-1] / "notes.txt").write_text("not a picture")
        (root / kinds[0] / "broken.png").write_bytes(b"\x89PNG and then nothing")
    return root


def run_smoke(module: str, *args) -> str:
    """A benchmark script's --smoke run (python -m module): its output, failing the test if it failed."""
    out = subprocess.run([sys.executable, "-m", module, "--smoke", *args], cwd=ROOT, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout
