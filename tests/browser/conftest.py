"""One Chromium (Debian's, driven by Playwright) for every browser story, against the one app the tests share
(tests/conftest.py's app_server). The stories take the README's screenshots when asked to refresh them:
`VAE_REFRESH_ASSETS=1 python -m pytest tests/browser` (into assets/); a plain run takes none and leaves
the work tree as it was."""

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REFRESH_ASSETS = os.environ.get("VAE_REFRESH_ASSETS") == "1"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]

if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        raise RuntimeError("CI needs Chromium for the browser tests: apt-get install chromium chromium-driver")
    pytest.skip("Chromium is not installed (apt-get install chromium chromium-driver)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="session")
def app_url(app_server):
    return app_server[0]


@pytest.fixture(scope="session")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture(autouse=True)
def _pages_closed(request):
    """Every page a test opened is closed after it, passed or failed: a page left open (its animations
    playing) would slow every later test down."""
    yield
    if "browser" in request.fixturenames:
        for context in request.getfixturevalue("browser").contexts:
            context.close()


@pytest.fixture(scope="session")
def shots() -> Path | None:
    """Where the screenshots go: assets/ when asked to refresh them; else none are taken."""
    return ROOT / "assets" if REFRESH_ASSETS else None
