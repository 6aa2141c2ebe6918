"""The public-server guards: request bodies are bounded, and one visitor cannot fill the queue."""

import json
import logging
from types import SimpleNamespace

import pytest

from conftest import run_async

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
    ok, message, state = run_async(push(SimpleNamespace(session_hash="flooder", fn_index=0, data=[1, 2]), None, None))
    assert (ok, state) == (False, "queue_full") and "12 requests waiting" in message
    other = SimpleNamespace(session_hash="other", fn_index=0, data=["mnist-z32", [0.0] * 32])
    assert run_async(push(other, None, None)) == (True, "event-id", "success")
    assert calls == ["other"]


def test_a_request_missing_values_gets_a_sentence():
    demo, calls = _queue({})
    guard.limit_queue_per_visitor(demo)
    short = SimpleNamespace(session_hash="s", fn_index=0, data=["mnist-z32"])
    ok, message, state = run_async(demo._queue.push(short, None, None))
    assert (ok, state) == (False, "error") and message.startswith("decode takes 2 values and got 1") and not calls


@pytest.mark.parametrize("fn_index", [99999, -1, None])
def test_a_request_naming_no_event_gets_a_sentence_and_one_log_line(fn_index, caplog):
    demo, calls = _queue({})

    async def push(body, request, username):  # as Gradio's: the event is looked up unchecked
        calls.append(demo.fns[body.fn_index])
        return True, "event-id", "success"
    demo._queue.push = push
    guard.limit_queue_per_visitor(demo)
    caplog.set_level(logging.INFO, logger="vae_explorer")
    body = SimpleNamespace(session_hash="s", fn_index=fn_index, data=["mnist-z32", [0.0] * 32])
    ok, message, state = run_async(demo._queue.push(body, None, None))
    assert (ok, state) == (False, "error") and message.startswith(f"fn_index {fn_index} is no event") and not calls
    lines = [r.getMessage() for r in caplog.records if r.name == "vae_explorer"]
    assert len(lines) == 1 and lines[0].startswith("refused: ")


def test_requests_gradios_routes_cannot_read_get_a_4xx_sentence_and_one_log_line(caplog):
    import gradio as gr
    from starlette.middleware import Middleware

    with gr.Blocks() as demo:
        number = gr.Number()
        number.submit(lambda x: x, number, number, api_name="echo")
    demo.queue()
    guard.limit_queue_per_visitor(demo)
    app = gr.routes.App.create_app(demo, app_kwargs={"middleware": [Middleware(guard.QuietRouteErrors)]})

    async def ask(method, path, **kwargs):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            return await client.request(method, path, **kwargs)
    caplog.set_level(logging.INFO, logger="vae_explorer")
    join = {"data": [1], "session_hash": "s", "event_data": None, "trigger_id": None}
    for method, path, kwargs, status in [
            ("POST", "/gradio_api/queue/join", {"json": {**join, "fn_index": 99999}}, 400),
            ("POST", "/gradio_api/queue/join", {"json": {**join, "fn_index": -1}}, 400),
            ("GET", "/gradio_api/proxy=%00", {}, 400),  # Gradio's route raised httpx.InvalidURL: a 500
            ("GET", "/gradio_api/proxy=http://[::1", {}, 400),
            ("POST", "/gradio_api/call/nothing", {"json": {"data": [1]}}, 404)]:
        caplog.clear()
        answer = run_async(ask(method, path, **kwargs))
        sentence = answer.json().get("error") or answer.json().get("detail")
        assert answer.status_code == status and sentence.endswith("."), (path, answer.text)
        lines = [r.getMessage() for r in caplog.records if r.name == "vae_explorer"]
        assert len(lines) == 1 and lines[0].startswith("refused: "), (path, lines)
    assert run_async(ask("POST", "/gradio_api/queue/join", json={**join, "fn_index": 0})).status_code == 200


def test_a_visitor_who_leaves_mid_upload_is_one_log_line_not_a_traceback(caplog):
    from starlette.requests import ClientDisconnect, Request

    async def route(scope, receive, send):  # as Gradio's upload route reads a body whose client has gone
        async for _ in Request(scope, receive).stream():
            pass

    async def gone():
        return {"type": "http.disconnect"}
    caplog.set_level(logging.INFO, logger="vae_explorer")
    scope = {"type": "http", "method": "POST", "path": "/gradio_api/upload", "headers": []}
    with pytest.raises(ClientDisconnect):
        run_async(route(scope, gone, None))
    run_async(guard.QuietRouteErrors(route)(scope, gone, None))
    assert [r.getMessage() for r in caplog.records] == ["a visitor left during a request to /gradio_api/upload"]


def _call(app, body: bytes, path="/gradio_api/queue/join", headers=None):
    async def go():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.post(path, content=body, headers=headers or {})
    return run_async(go())


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
    assert run_async(demo._queue.push(SimpleNamespace(session_hash="s", fn_index=1, data=["m", drawing]),
                                        None, None))[0]
    flood = {"background": None, "layers": [layer] * 250, "composite": None}  # 250 layers took 3.6 GB
    ok, message, state = run_async(demo._queue.push(SimpleNamespace(session_hash="s", fn_index=1,
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


def _request(peer: str | None, forwarded: str | None = None):
    headers = {"x-forwarded-for": forwarded} if forwarded is not None else {}
    return SimpleNamespace(client=SimpleNamespace(host=peer) if peer else None, headers=headers)


def test_a_forwarded_address_is_believed_only_from_a_proxy_the_operator_named():
    private = guard.trusted_proxies("private")
    assert guard.visitor_address(_request("8.8.4.4", "1.1.1.1"), private) == "8.8.4.4"  # not a proxy: ignored
    assert guard.visitor_address(_request("10.16.3.80", "6.6.6.6, 1.1.1.1"), private) == "1.1.1.1"  # the proxy's entry
    assert guard.visitor_address(_request("127.0.0.1", "1.1.1.1"), private) == "127.0.0.1"  # loopback is no proxy
    nobody = guard.trusted_proxies("")
    assert guard.visitor_address(_request("10.16.3.80", "1.1.1.1"), nobody) == "10.16.3.80"  # a script inventing them
    one = guard.trusted_proxies("10.16.3.80, 192.0.2.0/24")
    assert guard.visitor_address(_request("10.16.3.80", "1.1.1.1"), one) == "1.1.1.1"
    assert guard.visitor_address(_request("10.16.3.81", "1.1.1.1"), one) == "10.16.3.81"
    assert guard.visitor_address(_request("192.0.2.7", "5.5.5.5"), one) == "5.5.5.5"
    assert guard.visitor_address(_request(None)) == "unknown"


def test_by_default_only_a_hugging_face_spaces_own_network_is_trusted(monkeypatch):
    monkeypatch.delenv("VAE_TRUSTED_PROXIES", raising=False)
    monkeypatch.delenv("SPACE_ID", raising=False)
    assert guard.trusted_proxies() == []
    monkeypatch.setenv("SPACE_ID", "someone/vae-explorer")
    assert guard.trusted_proxies() == guard.trusted_proxies("private")
    monkeypatch.setenv("VAE_TRUSTED_PROXIES", "10.0.0.1")
    assert [str(n) for n in guard.trusted_proxies()] == ["10.0.0.1/32"]


def _queued(address: str, n: int, session: str | None = None) -> list:
    return [SimpleNamespace(address=address, session=session or f"{address}-{i}", tag=f"{address}{i}")
            for i in range(n)]


def _take_turns(events, event):
    guard.take_turns(events, event, lambda e: e.address, lambda e: e.session)


def test_a_visitor_waits_behind_one_turn_of_a_flood_not_all_of_it():
    events = _queued("flood", 30)  # a script at another address, a new session for each request
    for tag in ("a0", "a1"):  # a visitor's two requests: one behind each of the flood's first two
        events.append(SimpleNamespace(address="a", session="a", tag=tag))
        _take_turns(events, events[-1])
    assert [e.tag for e in events[:5]] == ["flood0", "a0", "flood1", "a1", "flood2"]
    events.append(SimpleNamespace(address="b", session="b", tag="b0"))  # a third visitor: in the first turn too
    _take_turns(events, events[-1])
    assert [e.tag for e in events[:3]] == ["flood0", "a0", "b0"]
    events.append(SimpleNamespace(address="flood", session="x", tag="flood30"))  # the flood's own: at the end
    _take_turns(events, events[-1])
    assert events[-1].tag == "flood30"
    assert [e.tag for e in events if e.address == "flood"] == [f"flood{i}" for i in range(31)]


def test_a_class_at_one_address_takes_turns_with_a_flood_from_that_same_address():
    events = [e for i in range(3) for e in _queued("school", 4, session=f"script-{i}")]
    events.sort(key=lambda e: e.tag)  # each script session's 4 requests, queued in order
    pupil = SimpleNamespace(address="school", session="pupil", tag="pupil")
    events.append(pupil)
    _take_turns(events, pupil)
    assert events.index(pupil) <= 3  # behind one request of each of the 3 script sessions, not all 12
    second = SimpleNamespace(address="school", session="pupil", tag="pupil-2")
    events.append(second)
    _take_turns(events, second)
    assert events.index(pupil) < events.index(second) <= 7  # its second in the second round


def test_the_queue_puts_each_new_request_in_its_addresss_turn(monkeypatch):
    monkeypatch.setattr(guard, "TRUSTED", guard.trusted_proxies("private"))  # behind a Space's proxy
    flood = [SimpleNamespace(session_hash=f"s{i}", request=_request("10.0.0.2", "203.0.113.7"), concurrency_id="d")
             for i in range(20)]  # a script with a new session for each request: under the per-session limit
    events = list(flood)
    ids = {}

    async def push(body, request, username):
        event = SimpleNamespace(session_hash=body.session_hash, request=request, concurrency_id="d")
        events.append(event)
        ids[body.session_hash] = event
        return True, body.session_hash, "success"
    queue = SimpleNamespace(event_queue_per_concurrency_id={"d": SimpleNamespace(queue=events)}, push=push,
                            event_ids_to_events=ids)
    demo = SimpleNamespace(_queue=queue, fns={0: SimpleNamespace(api_name="decode", inputs=["model", "z"])})
    guard.limit_queue_per_visitor(demo)
    body = SimpleNamespace(session_hash="teacher", fn_index=0, data=["mnist-z32", [0.0] * 32])
    assert run_async(demo._queue.push(body, _request("10.0.0.2", "198.51.100.9"), None))[0]
    assert events.index(ids["teacher"]) == 1  # behind one of the script's 20, not all of them


def test_one_address_may_hold_half_the_queue_whatever_sessions_it_names(monkeypatch):
    monkeypatch.setattr(guard, "TRUSTED", guard.trusted_proxies("private"))
    script = _request("10.0.0.2", "1.1.1.1")
    events = [SimpleNamespace(session_hash=f"s{i}", request=script, concurrency_id="d")
              for i in range(guard.QUEUED_PER_ADDRESS)]

    async def push(body, request, username):
        return True, None, "success"
    queue = SimpleNamespace(event_queue_per_concurrency_id={"d": SimpleNamespace(queue=events)}, push=push)
    demo = SimpleNamespace(_queue=queue, fns={0: SimpleNamespace(api_name="decode", inputs=["model", "z"])})
    guard.limit_queue_per_visitor(demo)
    body = SimpleNamespace(session_hash="fresh", fn_index=0, data=["mnist-z32", [0.0] * 32])
    ok, message, state = run_async(demo._queue.push(body, script, None))
    assert (ok, state) == (False, "queue_full") and "from your network" in message
    assert run_async(demo._queue.push(body, _request("10.0.0.2", "8.8.8.8"), None))[0]  # another address goes in
