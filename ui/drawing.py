"""Drawing in the visitor's browser: each model's decoder runs there, with onnxruntime-web, so that a
slider's drag redraws its digit without a request to the server. A class of thirty dragging sliders
costs the server nothing but the page and the models' files.

The server's part:
  - `DigitCanvas`, a picture that the page draws itself (gr.HTML with a canvas), from the codes the
    server sends it and the moves the visitor makes; until the browser's decoder is ready, or where
    WebAssembly is missing, it asks the server to draw instead (its `server_draw` event);
  - `BrowserFiles`, the routes under /vae/ that serve the vendored runtime (ui/vendor), drawing.js and
    each model's decoder as ONNX (vae_core.export, kept on disk under the weights' digest);
  - `picture_value`, what a handler returns for a DigitCanvas; `when_settled`, what runs once a drag pauses.

The browser's part is drawing.js (loaded once by every DigitCanvas), which the tests drive in Chromium.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import logging
import re
from pathlib import Path

import gradio as gr
import numpy as np
import torch

from vae_core import images, latent

from .state import CTX

log = logging.getLogger("vae_explorer")
HERE = Path(__file__).resolve().parent
ORT_FOLDER = HERE / "vendor" / "onnxruntime-web-1.31.1"
SCRIPT = HERE / "drawing.js"
PREFIX = "/vae/"
FOREVER = b"public, max-age=31536000, immutable"  # every URL here names its content (a version, a digest)
ORT_FILES = {"ort.wasm.bundle.min.mjs": ("ort.wasm.bundle.min.mjs", b"text/javascript"),
             "ort-wasm-simd-threaded.wasm": ("ort-wasm-simd-threaded.wasm.gz", b"application/wasm")}
DECODER = re.compile(r"decoder/([0-9a-f]{16})\.onnx")
_FILES: dict[str, tuple[Path, bytes]] = {}  # the app's own files served here: name -> (path, content type)


def serve_file(path: Path, kind: bytes) -> str:
    """Serve one of the app's own files under /vae/, at a name that holds its content's digest (so a
    browser may keep it forever); returns its URL relative to the page, which works behind a proxy too."""
    name = f"files/{hashlib.sha256(path.read_bytes()).hexdigest()[:12]}-{path.name}"
    _FILES[name] = (path, kind)
    return f"vae/{name}"


SCRIPT_URL = serve_file(SCRIPT, b"text/javascript")


def decoder_url(name: str) -> str:
    """Where the page fetches the model's decoder (relative to the page): named by its weights' digest, so
    that only a page that was shown the model knows it, and a browser may keep it forever."""
    CTX.registry.model(name)  # loads it, and with it the digest
    return f"vae/decoder/{CTX.registry.entry(name).digest}.onnx"


def pixels(x: torch.Tensor) -> list[str]:
    """Images (N, 1, 28, 28) in [0, 1] as the page draws them: 784 bytes (0-255) each, in base64."""
    return [base64.b64encode(tile.tobytes()).decode() for tile in images.to_uint8(x).reshape(-1, 28, 28)]


def drawn_in_browser(name: str, value) -> bool:
    """Whether the page said its own decoder for this model is ready, so the server need not draw."""
    return isinstance(value, dict) and value.get("local") == decoder_url(name)


def picture_value(name: str, z: torch.Tensor, shown=None, drawn: torch.Tensor | None = None, **extra) -> dict:
    """A DigitCanvas's value: the code(s) `z` (1 or N, latent_dim) of the model, the decoder that draws
    them, and the server's own pictures of them (`drawn`, else decoded here) unless the page `shown` said
    it draws them itself. `extra` says how to draw and move them: dims (each slider sets one number) or
    steps (each adds its amount times a vector), columns (a strip), animate, walk (see drawing.js)."""
    z = torch.as_tensor(z, dtype=torch.float32).reshape(-1, CTX.registry.model(name).latent_dim)
    local = drawn_in_browser(name, shown)
    if not local:
        drawn = pixels(latent.decode_images(CTX.registry.model(name), z) if drawn is None else drawn)
    return {"decoder": decoder_url(name), "codes": z.tolist(), "pixels": None if local else drawn,
            **({"local": shown["local"]} if local else {}), **extra}


def moved_code(value: dict, amounts) -> torch.Tensor:
    """The code a DigitCanvas shows after its sliders moved (drawing.js's codeFor, in Python): its first
    code with each slider's number set (dims) or added along its vector (steps)."""
    z = torch.tensor(value["codes"][0], dtype=torch.float32)
    for d, v in zip(value.get("dims") or [], amounts):
        z[int(d)] = float(v)
    for step, v in zip(value.get("steps") or [], amounts):
        z += float(v) * torch.tensor(step, dtype=torch.float32)
    return z[None]


# Static: Gradio re-renders a template whose text changed by patching the DOM back to it, which would undo
# what the script draws (the canvas's size, its pixels). The label is written by the script instead. The CSS
# reads no props either: a picture whose first value came while its tab was closed had no other props, and
# `height` missing left it unmade ("Error rendering HTML").
TEMPLATE = """<figure class="vae-figure vae-empty"><figcaption class="vae-label"></figcaption>
<canvas class="vae-canvas" width="28" height="28" role="img"></canvas></figure>"""
CANVAS_CSS = """
.vae-figure { margin: 0; display: flex; flex-direction: column; align-items: stretch; }
.vae-label { font-size: var(--block-label-text-size); color: var(--block-label-text-color); margin-bottom: 4px; }
.vae-canvas { image-rendering: pixelated; width: 100%; height: HEIGHTpx; object-fit: contain; }
.vae-figure.vae-empty { display: none; }
"""
# The canvas draws each value the server sends, and moves made on the page. Its events: 'server_draw' for
# the server to draw where the browser cannot (yet); 'settled' once a drag has paused (when_settled).
CANVAS_JS = """
const caption = element.querySelector('figcaption'), canvas = element.querySelector('canvas');
const label = () => { caption.textContent = props.label || ''; canvas.setAttribute('aria-label', props.label || ''); };
const picture = window.vaeDraw.picture(canvas, {
  askServer: () => trigger('server_draw'),
  settled: () => trigger('settled'),
  setValue: (value) => { props.value = value; },
});
// Its name from the page, not a prop: a picture first drawn in a tab not yet opened got only its value.
window.vaeDraw.register(element.closest('.block.vae-digit').id, picture);
label();
watch('label', label);
watch('value', () => picture.show(props.value));
if (props.value) picture.show(props.value);
"""


def DigitCanvas(label: str, elem_id: str, height: int = 260, **kwargs) -> gr.HTML:  # noqa: N802 (a component)
    """A picture of one or more codes (a strip, played as an animation where asked), drawn by the page. A
    plain gr.HTML, not a subclass: Gradio writes a stub file beside the module of every subclass."""
    return gr.HTML(value=None, label=label, html_template=TEMPLATE, css_template=CANVAS_CSS.replace("HEIGHT", str(height)),
                   js_on_load=CANVAS_JS, head=f'<script src="{SCRIPT_URL}"></script>', elem_id=elem_id,
                   elem_classes=["vae-digit"], padding=False, **kwargs)


def when_settled(canvas: gr.HTML, fn, inputs, outputs, **kwargs):
    """Run fn once a drag of the canvas's code has paused (0.8 s), by mouse, finger or arrow keys:
    what the view shows beside the picture (a map) follows with one request, not one per move."""
    return canvas.settled(fn, inputs, outputs, **{"api_name": False, "show_progress": "hidden", **kwargs})


class BrowserFiles:
    """ASGI middleware: GET under /vae/ serves the vendored runtime, drawing.js and models' decoders;
    everything else goes on to the app."""

    def __init__(self, app):
        self.app = app
        self._files: dict[str, bytes] = {}  # read once; the .wasm also unpacked, for a client without gzip

    async def __call__(self, scope, receive, send):
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith(PREFIX) or scope["method"] not in ("GET", "HEAD"):
            return await self.app(scope, receive, send)
        name = path[len(PREFIX):]
        gzip_ok = b"gzip" in dict(scope["headers"]).get(b"accept-encoding", b"")
        if name in _FILES:
            file, kind = _FILES[name]
            return await _send(send, 200, file.read_bytes(), kind)
        if name.startswith("ort/") and name[4:] in ORT_FILES:
            file, kind = ORT_FILES[name[4:]]
            body = self._file(file)
            if not file.endswith(".gz"):
                return await _send(send, 200, body, kind)
            if gzip_ok:
                return await _send(send, 200, body, kind, [(b"content-encoding", b"gzip"), (b"vary", b"accept-encoding")])
            return await _send(send, 200, self._file(file, unpacked=True), kind, [(b"vary", b"accept-encoding")])
        found = DECODER.fullmatch(name)
        if found:
            return await self._decoder(send, found.group(1))
        return await _send(send, 404, b"not found", b"text/plain", cache=b"no-store")

    def _file(self, file: str, unpacked: bool = False) -> bytes:
        key = file + ("!" if unpacked else "")
        if key not in self._files:
            body = (ORT_FOLDER / file).read_bytes()
            self._files[key] = gzip.decompress(body) if unpacked else body
        return self._files[key]

    async def _decoder(self, send, digest: str):
        model = CTX.registry.by_digest(digest)
        if model is None:
            return await _send(send, 404, b"no such decoder", b"text/plain", cache=b"no-store")
        try:  # made once, in a process of its own: the server's other requests go on meanwhile
            path = await asyncio.get_running_loop().run_in_executor(None, CTX.registry.decoder_onnx, model)
        except Exception as e:  # the page draws on the server instead; the log says why
            log.warning("decoder of %s could not be exported: %s", model, e)
            return await _send(send, 503, b"this decoder cannot be made here", b"text/plain", cache=b"no-store")
        return await _send(send, 200, path.read_bytes(), b"application/octet-stream")


async def _send(send, status: int, body: bytes, kind: bytes, headers=(), cache: bytes = FOREVER):
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", kind), (b"content-length", str(len(body)).encode()),
                            (b"cache-control", cache), *headers]})
    await send({"type": "http.response.body", "body": body})


def warm_up(names) -> None:
    """Export the decoders a page will ask for first, before anyone asks (background work)."""
    for name in names:
        if name is not None:
            try:
                CTX.registry.decoder_onnx(name)
            except Exception as e:  # the page draws on the server instead
                log.warning("decoder of %s could not be exported: %s", name, e)


def as_array(value: dict) -> np.ndarray:
    """A DigitCanvas value's pictures as uint8 (N, 28, 28), for tests and benchmarks."""
    return np.stack([np.frombuffer(base64.b64decode(p), np.uint8).reshape(28, 28) for p in value["pixels"]])
