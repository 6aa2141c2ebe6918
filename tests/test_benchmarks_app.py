"""The benchmarks that serve the app to visitors (latency, load and a class, drags in Chromium) run in their
--smoke mode; a file of their own, so that the suite's two workers run them beside the training ones."""

import shutil
from pathlib import Path

from conftest import run_smoke as _run


def test_latency_smoke(data_dir):
    args = [] if shutil.which("chromium") or Path("/usr/bin/chromium").exists() else ["--no-browser"]
    out = _run("benchmarks.latency", *args)
    assert "decode one point" in out and "app cold start" in out and "UMAP of 500 codes" in out
    if not args:
        assert "page to first complete picture" in out
        assert "UMAP of a shipped model" in out


def test_load_smoke(data_dir):
    out = _run("benchmarks.load")
    assert "loaded (visitors + one training):" in out and "kill -9 of the CLI trainer" in out
    assert " 0 errors" in out and "refused" in out
    assert "loaded (visitors + one training): " in out and ", 0 errors, " in out.split("loaded (visitors")[1].split("\n")[0]
    # the class phase (benchmarks/classroom.py): the pupils' requests all answered, none refused
    line = next(line for line in out.splitlines() if line.startswith("the class (3 pupils, one address)"))
    assert "; 0 errors, 0 refused" in line, out
    assert "first pictures after" in out and "trainer processes: at most" in out


def test_drag_smoke(data_dir):
    if not (shutil.which("chromium") or Path("/usr/bin/chromium").exists()):
        return  # the browser tests say so, and fail in CI
    out = _run("benchmarks.drag")
    assert "drawn in the browser (onnxruntime-web, wasm, 1 thread): 5 moves" in out
    assert "drawn by the server (?draw=server): 5 moves" in out
