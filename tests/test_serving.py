"""The page and its config made once for a class (ui/serving.py)."""

import pytest

from conftest import run_async
from ui import serving

httpx = pytest.importorskip("httpx")


def _app():
    made = []

    async def app(scope, receive, send):
        made.append(scope["path"])
        status = 404 if scope["path"] == "/config" and b"broken" in scope.get("query_string", b"") else 200
        host = dict(scope["headers"]).get(b"host", b"")
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/html")]})
        await send({"type": "http.response.body", "body": (b"<page for " + host + b">") * 100})
    return app, made


def _get(app, path, host="class.example", encoding="gzip"):
    async def go():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{host}") as client:
            return await client.get(path, headers={"accept-encoding": encoding})
    return run_async(go())


def test_the_page_is_made_once_for_a_class_and_sent_compressed():
    app, made = _app()
    cached = serving.PageCache(app)
    answers = [_get(cached, "/") for _ in range(30)]
    assert made == ["/"]  # thirty visitors, one page made
    assert {a.content for a in answers} == {b"<page for class.example>" * 100}  # httpx unpacks gzip
    assert answers[0].headers["content-encoding"] == "gzip" and answers[0].num_bytes_downloaded < 200
    plain = _get(cached, "/", encoding="identity")
    assert "content-encoding" not in plain.headers and plain.content == answers[0].content
    assert _get(cached, "/", host="elsewhere.example").content.startswith(b"<page for elsewhere.example>")
    assert made == ["/", "/"]  # another address: its own page


def test_other_paths_and_failures_are_never_kept():
    app, made = _app()
    cached = serving.PageCache(app)
    for _ in range(2):
        assert _get(cached, "/config?broken=1").status_code == 404
        _get(cached, "/gradio_api/queue/data")
    assert made == ["/config", "/gradio_api/queue/data"] * 2


def test_a_new_session_copies_no_configs_until_one_is_read_and_then_the_same_ones():
    import gradio as gr
    from gradio.state_holder import SessionState

    with gr.Blocks() as demo:
        words = gr.Textbox("seven", label="A digit")
        gr.Slider(0, 9, 7, label="Which")
    made_eagerly = {k: demo.default_config.config_for_block(k, [], v) for k, v in demo.blocks.items()}
    serving.lazy_session_configs()
    serving.lazy_session_configs()  # twice is once
    state = SessionState(demo)
    assert dict.__len__(state.config_values) == 0
    state._update_value_in_config(words._id, "eight")  # as an event's answer does
    assert dict.__len__(state.config_values) == 1
    made_eagerly[words._id]["props"]["value"] = "eight"
    assert list(state.components) == [made_eagerly[k] for k in state.config_values]
    assert sorted(state.config_values) == sorted(made_eagerly)


def test_gradio_summarises_its_event_timings_seldom_not_after_every_event():
    import gradio as gr

    with gr.Blocks() as demo:
        gr.Textbox()
    demo.queue()
    queue = demo._queue
    assert (queue.ANAYLTICS_CACHE_FREQUENCY, queue.ANALYTICS_MAX_EVENTS) == (1, 10000)  # Gradio's own: else drop this
    serving.lighter_analytics(demo)
    queue.event_analytics = {str(i): {"function": "make", "status": "success", "process_time": 0.01}
                             for i in range(50)}
    queue.events_recorded, queue.event_count_at_last_cache = 50, 0
    first = queue.compute_analytics_summary(list(queue.event_analytics.values()))
    queue.events_recorded += 1
    assert queue.compute_analytics_summary([{"function": "other", "status": "success", "process_time": 1.0}]) is first
