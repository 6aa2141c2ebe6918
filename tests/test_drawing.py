"""Drawing in the visitor's browser, the server's part (ui/drawing.py): the files it serves and the values
the pages draw. The browser's part is tested in Chromium (tests/browser/test_drawing.py)."""

import gzip
import hashlib

import pytest
import torch

from conftest import MAIN, run_async
from ui import drawing
from ui.state import CTX
from vae_core import latent

httpx = pytest.importorskip("httpx")


async def _nothing(scope, receive, send):
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def _get(path: str, headers=None):
    async def go():
        transport = httpx.ASGITransport(app=drawing.BrowserFiles(_nothing))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get(path, headers=headers or {})
    return run_async(go())


def test_the_vendored_runtime_is_served_whole_and_kept_by_the_browser():
    wasm = _get("/vae/ort/ort-wasm-simd-threaded.wasm", {"accept-encoding": "gzip, br"})
    assert wasm.status_code == 200 and wasm.headers["content-type"] == "application/wasm"
    assert wasm.headers["content-encoding"] == "gzip" and "immutable" in wasm.headers["cache-control"]
    # httpx unpacks it: the npm package's file, byte for byte (its digest is in the vendor folder's README)
    digest = hashlib.sha256(wasm.content).hexdigest()
    assert digest in (drawing.ORT_FOLDER / "README.md").read_text()
    plain = _get("/vae/ort/ort-wasm-simd-threaded.wasm", {"accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers and hashlib.sha256(plain.content).hexdigest() == digest
    module = _get("/vae/ort/ort.wasm.bundle.min.mjs")
    assert module.headers["content-type"] == "text/javascript" and b"ONNX Runtime Web v1.31.1" in module.content
    assert gzip.decompress((drawing.ORT_FOLDER / "ort-wasm-simd-threaded.wasm.gz").read_bytes())[:4] == b"\0asm"


@pytest.mark.parametrize("path", ["/vae/ort/../drawing.py", "/vae/ort/LICENSE", "/vae/files/x-drawing.js",
                                  "/vae/decoder/0123456789abcdef.onnx", "/vae/decoder/%2e%2e%2fx.onnx", "/vae/"])
def test_nothing_else_is_served_under_vae(path):
    assert _get(path).status_code == 404


def test_other_paths_go_on_to_the_app():
    assert _get("/config").status_code == 204


def test_the_script_is_served_at_its_contents_name():
    script = _get("/" + drawing.SCRIPT_URL)
    assert script.status_code == 200 and b"window.vaeDraw" in script.content


def test_a_models_decoder_is_served_by_its_weights_digest(mnist):
    url = drawing.decoder_url(MAIN)
    assert CTX.registry.entry(MAIN).digest in url
    onnx = _get("/" + url)
    assert onnx.status_code == 200 and onnx.content == CTX.registry.decoder_onnx(MAIN).read_bytes()


def test_a_picture_value_carries_the_servers_pixels_until_the_page_draws_them(mnist):
    z = torch.randn(3, 32)
    value = drawing.picture_value(MAIN, z, None, columns=3)
    expected = latent.decode_images(CTX.registry.model(MAIN), z)
    assert value["columns"] == 3 and value["decoder"] == drawing.decoder_url(MAIN)
    assert abs(drawing.as_array(value).astype(float) / 255 - expected[:, 0].numpy()).max() <= 0.5 / 255
    shown = {**value, "local": value["decoder"]}  # the page says it draws this model itself
    assert drawing.picture_value(MAIN, z, shown)["pixels"] is None
    other = {**value, "local": "vae/decoder/0123456789abcdef.onnx"}  # ... another model only
    assert drawing.picture_value(MAIN, z, other)["pixels"] is not None


def test_sliders_set_numbers_of_the_code_or_move_it_along_their_vectors():
    value = {"codes": [[0.0, 1.0, 2.0]], "dims": [2, 0]}
    assert drawing.moved_code(value, [5.0, -1.0]).tolist() == [[-1.0, 1.0, 5.0]]
    value = {"codes": [[0.0, 1.0, 2.0]], "steps": [[1.0, 0.0, 0.0], [0.0, 0.0, 2.0]]}
    assert drawing.moved_code(value, [0.5, -1.0]).tolist() == [[0.5, 1.0, 0.0]]
