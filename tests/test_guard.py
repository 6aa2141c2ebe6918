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


def test_a_body_over_the_limit_is_refused_before_it_is_read():
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
