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
