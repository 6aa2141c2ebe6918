"""What keeps a public server up for everyone: a bound on request bodies and on each visitor's queue.

Uploads have their own bound (launch's max_file_size, and the pixel budget of vae_core.images); every
other request is a small JSON body (a 28x28 digit is about 10 KB), so a larger one is refused before it
is parsed. Gradio's queue is shared: one visitor, or a script, may hold only so many waiting requests,
so that a flood from one session cannot fill it for the rest. A value that Gradio's own components
refuse (a slider's number out of its range, sent by a script) is, like every visitor's mistake, one line
in the log and a sentence in the answer, never a traceback.
"""

from __future__ import annotations

import json
import logging

import gradio as gr

log = logging.getLogger("vae_explorer")
MAX_BODY_BYTES = 1 << 20  # 1 MiB
QUEUED_PER_VISITOR = 12  # a page load queues about 8 events at once
QUEUE_SIZE = 256  # all visitors together


class BodyLimit:
    """ASGI middleware: a request body over `limit` bytes (file uploads aside) gets 413 and is not read."""

    def __init__(self, app, limit: int = MAX_BODY_BYTES):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"].endswith("/upload"):
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            return await self._refuse(send)
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:  # a body without a length, or one longer than it said
                raise ValueError("request body over the limit")
            return message
        try:
            await self.app(scope, counted, send)
        except ValueError as e:
            if str(e) != "request body over the limit":
                raise
            await self._refuse(send)

    async def _refuse(self, send):
        text = f"Request body over {self.limit // 1024} KB: a digit is 28 rows of 28 numbers."
        log.info("refused: %s", text)
        body = json.dumps({"error": text}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def limit_queue_per_visitor(demo, most: int = QUEUED_PER_VISITOR) -> None:
    """Refuse a visitor's request while `most` of theirs already wait in the queue (Gradio 6's queue),
    and a request with fewer values than its event takes (Gradio would fail on it without a word)."""
    queue = demo._queue
    push = queue.push

    async def limited_push(body, request, username):
        fn = demo.fns.get(body.fn_index) if isinstance(body.fn_index, int) else None
        if fn is not None and isinstance(body.data, list) and len(body.data) < len(fn.inputs):
            text = (f"{fn.api_name or 'This event'} takes {len(fn.inputs)} values and got {len(body.data)}: "
                    "see the API page for what each one is.")
            log.info("refused: %s", text)
            return False, text, "error"
        session = body.session_hash
        waiting = sum(1 for q in queue.event_queue_per_concurrency_id.values() for e in q.queue
                      if e.session_hash == session)
        if session and waiting >= most:
            log.info("refused: session %s… has %d requests waiting", session[:6], waiting)
            return False, (f"You have {waiting} requests waiting already; the app answers them in turn. "
                           "Try again in a moment."), "queue_full"
        return await push(body, request, username)
    queue.push = limited_push


def quiet_component_checks(demo) -> None:
    """Gradio checks each value against its component before a handler runs (a slider's range) and
    prints a traceback when one fails: make such a refusal one log line, as the handlers' own are."""
    preprocess = demo.preprocess_data

    async def checked(*args, **kwargs):
        try:
            return await preprocess(*args, **kwargs)
        except gr.Error as e:
            log.info("refused: %s", str(e.message).splitlines()[0][:200])
            e.print_exception = False
            raise
    demo.preprocess_data = checked
