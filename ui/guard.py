"""What keeps a public server up for everyone: a bound on request bodies and on each visitor's queue.

Uploads have their own bounds: one file a request (of launch's max_file_size), a budget for all kept
together, and no image decoded past the pixel budget of vae_core.images, by the app or by Gradio. Every
other request is a small JSON body (a 28x28 digit is about 10 KB), so a larger one is refused before it
is parsed, and it may name only a few files. Gradio's queue is shared: one visitor, or a script, may hold
only so many waiting requests, and one address half of the queue (a school's thirty pupils share one),
so that a flood cannot fill it for the rest. Within each event's queue the addresses take turns, and
within an address its sessions (fair queuing), so a flood waits behind its own requests, not in front of
a class's at the same address or of anyone's elsewhere; and the scripts' API
(/decode and the rest) has its own queue with few workers, so a flood of it leaves the page's own events
alone. A forwarded address (X-Forwarded-For) is believed only from a proxy the operator names
(VAE_TRUSTED_PROXIES; on a Hugging Face Space, its private network). A value that Gradio's own
components refuse (a slider's number out of its range, sent by a script) is, like every visitor's
mistake, one line in the log and a sentence in the answer, never a traceback.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import re
import tempfile
import time

import gradio as gr
import httpx
from gradio.exceptions import ComponentProcessingError

from vae_core.images import MAX_UPLOAD_BYTES
from gradio.route_utils import FnIndexInferError
from starlette.requests import ClientDisconnect
from starlette.responses import JSONResponse

log = logging.getLogger("vae_explorer")
MAX_BODY_BYTES = 256 << 10  # the largest the page sends is a walk's codes and pictures, about 40 KB
MAX_UPLOAD_BODY = MAX_UPLOAD_BYTES + (1 << 20)  # one upload request: one file, with its envelope
UPLOADS_BUDGET = 1 << 30  # all uploads kept together (Gradio keeps them an hour): past this, uploads wait
MAX_FILES_PER_REQUEST = 4  # files one request may name: a drawing (background, a layer, composite), a picture
QUEUED_PER_VISITOR = 12  # a page load queues a few events at once; a script waits behind its own
QUEUE_SIZE = 1024  # all visitors together: at most 256 MiB of bodies
QUEUED_PER_ADDRESS = QUEUE_SIZE // 2  # a class behind one school's address, with room for a flood beside it
API_LANE, API_WORKERS = "api", 2  # the scripts' endpoints: their own queue, at most this many at once
WORKERS = 128  # events running at once, all queues together (each queue has its own smaller limit)


def protect(demo) -> dict:
    """Every guard on the demo's queue; returns launch()'s arguments for the rest (its limits, and the
    middleware in app_kwargs, to which the app may add its own)."""
    from starlette.middleware import Middleware

    bound_image_decoding()
    demo.queue(default_concurrency_limit=8, max_size=QUEUE_SIZE)
    limit_queue_per_visitor(demo)
    quiet_component_checks(demo)
    # max_threads: room for a class's Watch-it-learn followers (async, holding no thread) beside everyone's events
    return {"max_file_size": MAX_UPLOAD_BYTES, "max_threads": WORKERS,
            "app_kwargs": {"middleware": [Middleware(QuietRouteErrors), Middleware(BodyLimit)]}}


class BodyLimit:
    """ASGI middleware: a request body over `limit` bytes (file uploads aside) gets 413 and is not read."""

    def __init__(self, app, limit: int = MAX_BODY_BYTES):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length")
        if scope["path"].endswith("/upload"):
            return await self._upload(scope, receive, send, length)
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

    async def _upload(self, scope, receive, send, length):
        """An upload holds one file (a script sent 1,000 of 20 MB in a request), and waits while the uploads
        kept take UPLOADS_BUDGET (a script filled 3 GB of disk in 16 s)."""
        if length is None or not length.isdigit() or int(length) > MAX_UPLOAD_BODY:
            return await self._refuse(send, f"An upload is one picture of at most {MAX_UPLOAD_BYTES >> 20} MB.")
        if uploads_kept() > UPLOADS_BUDGET:
            return await self._refuse(send, "The server holds too many uploads just now: try again in a few minutes.",
                                      status=503)
        return await self.app(scope, receive, send)

    async def _refuse(self, send, text: str | None = None, status: int = 413):
        text = text or f"Request body over {self.limit // 1024} KB: a digit is 28 rows of 28 numbers."
        log.info("refused: %s", text)
        body = json.dumps({"error": text}).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class QuietRouteErrors:
    """ASGI middleware: a request that names what Gradio's routes cannot read (a /proxy= address with a NUL
    or a broken port, a /call/ to an endpoint that does not exist) gets a 4xx, a sentence and one log line,
    where the route fails with a 500 and a traceback. A visitor who leaves mid-request (a tab closed during
    an upload) is one line too: there is nobody to answer."""

    REFUSALS = {httpx.InvalidURL: (400, "That address is not a valid URL."),
                FnIndexInferError: (404, "The app has no endpoint of that name: see the API page for those it has.")}

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def sending(message):
            nonlocal started
            started = True
            await send(message)
        try:
            await self.app(scope, receive, sending)
        except ClientDisconnect:
            log.info("a visitor left during a request to %s", scope.get("path", "")[:80])
        except tuple(self.REFUSALS) as e:
            if started:
                raise
            status, text = next(v for kind, v in self.REFUSALS.items() if isinstance(e, kind))
            log.info("refused: %s", text)
            await JSONResponse({"error": text}, status_code=status)(scope, receive, send)


_kept = {"at": -1e9, "bytes": 0}


def uploads_kept(every: float = 5.0) -> int:
    """Bytes in Gradio's folder of uploads and outputs (GRADIO_TEMP_DIR), measured at most every `every` s."""
    now = time.monotonic()
    if now - _kept["at"] >= every:
        folder = os.environ.get("GRADIO_TEMP_DIR") or os.path.join(tempfile.gettempdir(), "gradio")
        total = 0
        for root, _, files in os.walk(folder):
            for name in files:
                try:
                    total += os.stat(os.path.join(root, name)).st_size
                except OSError:
                    pass  # deleted meanwhile
        _kept.update(at=now, bytes=total)
    return _kept["bytes"]


def files_named(value, depth: int = 0) -> int:
    """How many files (dicts with a "path" or "url") a request's values name; past 32 levels of nesting,
    too many."""
    if depth > 32:
        return MAX_FILES_PER_REQUEST + 1
    if isinstance(value, dict):
        return int("path" in value or "url" in value) + sum(files_named(v, depth + 1) for v in value.values())
    if isinstance(value, list):
        return sum(files_named(v, depth + 1) for v in value)
    return 0


def bound_image_decoding() -> None:
    """The server decodes no image over the pixels of an upload's limit, whoever decodes it: Gradio decodes
    a drawing's layers and composite before the app's own check (a 9400x9400 composite cost 1 GB). PIL
    raises DecompressionBombError past twice its MAX_IMAGE_PIXELS. Called by the server only: the library
    (vae_core) leaves PIL's global setting as it is."""
    from PIL import Image

    from vae_core.images import MAX_UPLOAD_PIXELS

    Image.MAX_IMAGE_PIXELS = MAX_UPLOAD_PIXELS // 2


def trusted_proxies(setting: str | None = None) -> list:
    """The proxies whose X-Forwarded-For is believed: VAE_TRUSTED_PROXIES, addresses or networks separated by
    commas ("private" for every private network), by default none, or on a Hugging Face Space (SPACE_ID is
    set) "private": its proxy is the only way in there."""
    if setting is None:
        setting = os.environ.get("VAE_TRUSTED_PROXIES", "private" if os.environ.get("SPACE_ID") else "")
    nets = []
    for item in (part.strip() for part in setting.split(",")):
        if item == "private":
            nets += [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")]
        elif item:
            nets.append(ipaddress.ip_network(item, strict=False))
    return nets


TRUSTED = trusted_proxies()


def visitor_address(request, trusted: list | None = None) -> str:
    """The network address a request comes from: its peer's, or where the peer is a trusted proxy, the last
    X-Forwarded-For entry, the address that proxy saw (a client may write entries before it, not that one)."""
    client = getattr(request, "client", None)
    peer = getattr(client, "host", None) or ""
    try:
        ip = ipaddress.ip_address(peer)
        behind_proxy = any(ip in net for net in (TRUSTED if trusted is None else trusted))
    except ValueError:
        behind_proxy = False
    if behind_proxy:
        seen = [hop.strip() for hop in request.headers.get("x-forwarded-for", "").split(",") if hop.strip()]
        if seen:
            return seen[-1][:64]
    return peer or "unknown"


def take_turns(events: list, event, address, session) -> None:
    """Move `event`, just queued at the end of `events`, to its turn: the addresses take turns, and within
    an address its sessions do (fair queuing in two levels). Each session's requests keep their order; a
    request waits behind at most one of each other session's at its address for each of its own ahead, and
    its address's turn comes round with every other's, however many requests a flood has queued."""
    where, who = address(event), session(event)
    mine = sum(1 for e in events if e is not event and session(e) == who and address(e) == where)
    others: dict = {}
    for e in events:
        if e is not event and address(e) == where and session(e) != who:
            others[session(e)] = others.get(session(e), 0) + 1
    ahead = mine + sum(min(n, mine + 1) for n in others.values())  # its address's requests before it
    turns: dict = {}
    for i, e in enumerate(events):
        if e is event:
            return
        turns[address(e)] = turns.get(address(e), 0) + 1
        if turns[address(e)] > (ahead if address(e) == where else ahead + 1):  # a later turn than its own
            events.remove(event)
            events.insert(i, event)
            return


def _session_of(event) -> str:
    return event.session_hash


def _address_of(event) -> str:
    """A queued event's visitor_address, worked out once."""
    address = getattr(event, "vae_address", None)
    if address is None:
        address = event.vae_address = visitor_address(event.request)
    return address


def limit_queue_per_visitor(demo, most: int = QUEUED_PER_VISITOR) -> None:
    """Refuse a visitor's request while `most` of theirs already wait in the queue (Gradio 6's queue), or
    half the queue's room waits for their address, and a request naming no event of the app or with fewer
    values than its event takes (Gradio fails on them with a traceback, or without a word); queue the others
    so that each address, and within it each session, takes its turn (take_turns)."""
    queue = demo._queue
    push = queue.push

    async def limited_push(body, request, username):
        fn = demo.fns.get(body.fn_index) if isinstance(body.fn_index, int) else None
        if fn is None:
            text = f"fn_index {body.fn_index!r:.20} is no event of this app: see the API page for what it answers."
            log.info("refused: %s", text)
            return False, text, "error"
        if isinstance(body.data, list) and len(body.data) < len(fn.inputs):
            text = (f"{fn.api_name or 'This event'} takes {len(fn.inputs)} values and got {len(body.data)}: "
                    "see the API page for what each one is.")
            log.info("refused: %s", text)
            return False, text, "error"
        if isinstance(body.data, list) and files_named(body.data) > MAX_FILES_PER_REQUEST:
            # Gradio decodes every file a drawing names before a handler sees it: a few, not hundreds.
            text = f"A request may name at most {MAX_FILES_PER_REQUEST} files: a drawing, or one picture."
            log.info("refused: %s", text)
            return False, text, "error"
        session, address = body.session_hash, visitor_address(request)
        queued = [e for q in queue.event_queue_per_concurrency_id.values() for e in q.queue]
        waiting = sum(1 for e in queued if e.session_hash == session)
        if session and waiting >= most:
            log.info("refused: session %s… has %d requests waiting", session[:6], waiting)
            return False, (f"You have {waiting} requests waiting already; the app answers them in turn. "
                           "Try again in a moment."), "queue_full"
        if sum(1 for e in queued if hasattr(e, "request") and _address_of(e) == address) >= QUEUED_PER_ADDRESS:
            log.info("refused: address %s has %d requests waiting", address, QUEUED_PER_ADDRESS)
            return False, ("Too many requests from your network are waiting; the app answers them in turn. "
                           "Try again in a moment."), "queue_full"
        ok, event_id, status = await push(body, request, username)
        event = getattr(queue, "event_ids_to_events", {}).get(event_id) if ok else None  # (Gradio 6's queue)
        if event is not None and event.concurrency_id in queue.event_queue_per_concurrency_id:
            take_turns(queue.event_queue_per_concurrency_id[event.concurrency_id].queue, event, _address_of,
                       _session_of)
        return ok, event_id, status
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
        except ComponentProcessingError as e:  # a component that could not read a value (a word for a slider)
            kind = re.search(r"\(a `(\w+)` component\)", str(e))
            text = (f"A value sent does not fit its field{f' (a {kind.group(1)})' if kind else ''}: "
                    "see the API page for what each one takes.")
            log.info("refused: %s", text)
            error = gr.Error(text)
            error.print_exception = False
            raise error from None
    demo.preprocess_data = checked
