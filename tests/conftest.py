"""Shared fixtures. Tests that need MNIST skip, saying why, when no data directory holds it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_app(tmp_dir: Path, data_dir: str | None, extra_env: dict | None = None):
    port = _free_port()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "VAE_RUNS_DIR": str(tmp_dir / "runs"),
           "VAE_CACHE_DIR": str(tmp_dir / "cache"), **(extra_env or {})}
    args = [sys.executable, "app.py", "--port", str(port)] + (["--data-dir", data_dir] if data_dir else [])
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
