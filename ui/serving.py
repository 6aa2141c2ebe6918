"""What lets one small server open the page for a whole class at once.

Gradio makes the page and its config afresh for every visitor (a deep copy of the whole app's config,
then a template: about 0.1 s of a core together, and 0.8 MB to send). The app has no logins, so every
visitor at the same address gets the same bytes: PageCache makes them once and keeps them, and sends
them compressed to a browser that takes gzip (a fifth of the bytes, for thirty phones on a school's
network).

Gradio also gives each new session a copy of every component's config, for deep links (which this app
does not offer), before its first event runs: 28 ms of the server's one event loop and 376 KiB of memory
per session, so a script that names a new session per request stalls everyone and fills memory.
lazy_session_configs makes each copy when it is first read. And after every event Gradio summarises the
last 10,000 events' timings in a pandas table (for its monitoring page, which this app does not show): 5 ms
of a core per event in a class's first minute, 10 ms once a lesson has run that many (lighter_analytics).
"""

from __future__ import annotations

import gzip
import threading
import time

CACHED = ("/", "/config")  # GET paths whose answer is the same for every visitor
KEPT_SECONDS = 600.0  # an answer is made again after this long (the app's config does not change meanwhile)
MOST_KEPT = 16  # answers kept: one per address the page is asked at (a Space's, localhost, a share link)


ANALYTICS_EVERY = 1000  # events between Gradio's summaries of its timings (it made one after every event)
ANALYTICS_KEPT = 1000  # events whose timings it keeps for them


def lighter_analytics(demo) -> None:
    """Gradio's summary of its event timings, made every ANALYTICS_EVERY events over the last ANALYTICS_KEPT
    (the queue's own attributes; Gradio reads them from GRADIO_ANALYTICS_* when the demo is made)."""
    demo._queue.ANAYLTICS_CACHE_FREQUENCY = ANALYTICS_EVERY  # (sic: Gradio's name)
    demo._queue.ANALYTICS_MAX_EVENTS = ANALYTICS_KEPT


class LazyConfigs(dict):
    """A session's component configs, each made from the session's own blocks when first read."""

    def __init__(self, blocks_config, keys):
        super().__init__()
        self._blocks_config, self._todo = blocks_config, set(keys)

    def __missing__(self, key):
        if key not in self._todo:
            raise KeyError(key)
        value = self[key] = self._blocks_config.config_for_block(key, [], self._blocks_config.blocks[key])
        return value

    def __setitem__(self, key, value):
        self._todo.discard(key)
        super().__setitem__(key, value)

    def _made(self) -> "LazyConfigs":
        for key in [k for k in self._todo if k in self._blocks_config.blocks]:
            self[key]
        return self

    def items(self):
        return super(LazyConfigs, self._made()).items()

    def values(self):
        return super(LazyConfigs, self._made()).values()

    def __iter__(self):
        return super(LazyConfigs, self._made()).__iter__()

    def __len__(self):
        return super(LazyConfigs, self._made()).__len__()


def lazy_session_configs() -> None:
    """Sessions whose component configs are made when first read (see the module's docstring)."""
    from gradio.state_holder import SessionState

    if getattr(SessionState.__init__, "lazy", False):
        return
    made_eagerly = SessionState.__init__

    def init(self, blocks):
        made_eagerly(self, _NoBlocks(blocks))
        self.config_values = LazyConfigs(self.blocks_config, list(blocks.blocks))
    init.lazy = True
    SessionState.__init__ = init


class _NoBlocks:
    """A Blocks as SessionState's own __init__ sees it: its config, and no blocks to copy configs of."""

    def __init__(self, blocks):
        self.default_config, self.blocks = blocks.default_config, {}


class PageCache:
    """ASGI middleware: GET of CACHED paths answered from answers made once, per the address asked at."""

    def __init__(self, app):
        self.app = app
        self._kept: dict[tuple, tuple[float, list, bytes, bytes]] = {}
        self._lock = threading.Lock()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD") or scope["path"] not in CACHED:
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        key = (scope["path"], scope.get("query_string", b""), scope.get("scheme"), headers.get(b"host"),
               headers.get(b"x-forwarded-host"), headers.get(b"x-forwarded-proto"), scope.get("root_path"))
        with self._lock:
            kept = self._kept.get(key)
        if kept is None or time.monotonic() - kept[0] > KEPT_SECONDS:
            kept = await self._make(scope, receive, send, key)
            if kept is None:
                return  # not cacheable: it was sent as the app made it
        _, head, body, packed = kept
        if b"gzip" in headers.get(b"accept-encoding", b""):
            body, head = packed, [*head, (b"content-encoding", b"gzip")]
        await send({"type": "http.response.start", "status": 200,
                    "headers": [*head, (b"content-length", str(len(body)).encode()), (b"vary", b"accept-encoding")]})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})

    async def _make(self, scope, receive, send, key):
        """Ask the app; keep its answer where it is a plain 200 for anyone, else pass it on as it came."""
        start, parts = {}, []

        async def keep(message):
            if message["type"] == "http.response.start":
                start.update(message)
            else:
                parts.append(message.get("body", b""))
        await self.app({**scope, "method": "GET"}, receive, keep)
        head = [(k, v) for k, v in start.get("headers", []) if k.lower() not in (b"content-length", b"date")]
        body = b"".join(parts)
        if start.get("status") != 200 or any(k.lower() == b"set-cookie" for k, _ in head):
            await send({**start, "headers": start.get("headers", [])})
            await send({"type": "http.response.body", "body": body})
            return None
        kept = (time.monotonic(), head, body, gzip.compress(body, compresslevel=6))
        with self._lock:
            self._kept[key] = kept
            while len(self._kept) > MOST_KEPT:
                self._kept.pop(next(iter(self._kept)))
        return kept
