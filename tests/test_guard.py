"""The public-server guards: request bodies are bounded, and one visitor cannot fill the queue."""

import asyncio
import json
from types import SimpleNamespace

import pytest

from ui import guard

httpx = pytest.importorskip("httpx")


def _queue(waiting: dict[str, int]):
    """A stand-in for Gradio's queue holding `waiting[session]` events per session."""
    events = [SimpleNamespace(session_hash=s) for s, n in waiting.items() for _ in range(n)]
    calls = []

    async def push(body, request, username):
        calls.append(body.session_hash)
        return True, "event-id", "success"
    queue = SimpleNamespace(event_queue_per_concurrency_id={"default": SimpleNamespace(queue=events)}, push=push)
    fns = {0: SimpleNamespace(api_name="decode", inputs=["model", "z"])}
    return SimpleNamespace(_queue=queue, fns=fns), calls


def test_a_visitor_with_a_full_share_of_the_queue_waits_while_others_go_on():
    demo, calls = _queue({"flooder": 12, "other": 3})
    guard.limit_queue_per_visitor(demo, most=12)
    push = demo._queue.push
    ok, message, state = asyncio.run(push(SimpleNamespace(session_hash="flooder", fn_index=0, data=[1, 2]), None, None))
    assert (ok, state) == (False, "queue_full") and "12 requests waiting" in message
    other = SimpleNamespace(session_hash="other", fn_index=0, data=["mnist-z32", [0.0] * 32])
    assert asyncio.run(push(other, None, None)) == (True, "event-id", "success")
    assert calls == ["other"]


def test_a_request_missing_values_gets_a_sentence():
    demo, calls = _queue({})
    guard.limit_queue_per_visitor(demo)
    short = SimpleNamespace(session_hash="s", fn_index=0, data=["mnist-z32"])
    ok, message, state = asyncio.run(demo._queue.push(short, None, None))
    assert (ok, state) == (False, "error") and message.startswith("decode takes 2 values and got 1") and not calls


def _call(app, body: bytes, path="/gradio_api/queue/join", headers=None):
    async def go():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.post(path, content=body, headers=headers or {})
    return asyncio.run(go())


async def _echo(scope, receive, send):
    """An app that reads the whole body and answers with its length."""
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(size).encode()})


def test_a_request_naming_many_files_is_refused_before_gradio_decodes_them():
    demo, calls = _queue({})
    demo.fns[1] = SimpleNamespace(api_name="encode_sketch", inputs=["model", "sketch"])
    guard.limit_queue_per_visitor(demo)
    layer = {"path": "/tmp/gradio/x/layer.png", "meta": {"_type": "gradio.FileData"}}
    drawing = {"background": None, "layers": [layer], "composite": dict(layer)}  # what the page sends
    assert asyncio.run(demo._queue.push(SimpleNamespace(session_hash="s", fn_index=1, data=["m", drawing]),
                                        None, None))[0]
    flood = {"background": None, "layers": [layer] * 250, "composite": None}  # 250 layers took 3.6 GB
    ok, message, state = asyncio.run(demo._queue.push(SimpleNamespace(session_hash="s", fn_index=1,
                                                                      data=["m", flood]), None, None))
    assert (ok, state) == (False, "error") and "at most 4 files" in message and calls == ["s"]
    nested = []
    for _ in range(100):
        nested = [nested]
    assert guard.files_named(nested) > guard.MAX_FILES_PER_REQUEST  # deep nesting counts as too many


def test_the_server_decodes_no_image_past_the_upload_pixel_budget(monkeypatch):
    from PIL import Image

    from vae_core.images import MAX_UPLOAD_PIXELS
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)  # put back after the test
    guard.bound_image_decoding()
    assert 2 * Image.MAX_IMAGE_PIXELS == MAX_UPLOAD_PIXELS  # PIL refuses past twice its setting


def test_an_upload_is_one_file_and_waits_while_the_uploads_kept_are_over_budget(monkeypatch):
    monkeypatch.setattr(guard, "uploads_kept", lambda: 0)
    app = guard.BodyLimit(_echo, limit=1000)
    assert _call(app, b"z" * 5000, path="/gradio_api/upload").status_code == 200  # not the 1,000-byte bound
    huge = _call(app, b"z", path="/gradio_api/upload", headers={"content-length": str(guard.MAX_UPLOAD_BODY + 1)})
    assert huge.status_code == 413 and "one picture of at most 20 MB" in huge.json()["error"]

    async def chunks():  # no length given: refused, as a page's upload always gives one
        yield b"y" * 10
    assert _call(app, chunks(), path="/gradio_api/upload").status_code == 413
    monkeypatch.setattr(guard, "uploads_kept", lambda: guard.UPLOADS_BUDGET + 1)
    full = _call(app, b"z" * 5000, path="/gradio_api/upload")
    assert full.status_code == 503 and "try again in a few minutes" in full.json()["error"]


def test_the_uploads_kept_are_measured_in_gradios_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path))
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.png").write_bytes(b"0" * 3000)
    (tmp_path / "y.gif").write_bytes(b"0" * 500)
    assert guard.uploads_kept(every=0) == 3500


def test_a_body_over_the_limit_is_refused_before_it_is_read(monkeypatch):
    monkeypatch.setattr(guard, "uploads_kept", lambda: 0)
    app = guard.BodyLimit(_echo, limit=1000)
    small = _call(app, b"x" * 900)
    assert small.status_code == 200 and small.text == "900"
    big = _call(app, json.dumps([[0.5] * 2000] * 10).encode())
    assert big.status_code == 413 and "a digit is 28 rows of 28 numbers" in big.json()["error"]

    async def chunks():  # no content-length: counted as it arrives
        for _ in range(5):
            yield b"y" * 400
    assert _call(app, chunks()).status_code == 413
    assert _call(app, b"z" * 5000, path="/gradio_api/upload").status_code == 200  # uploads have their own bound
