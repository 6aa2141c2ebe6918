"""A pupil's page as benchmarks/classroom.py plays it (its session, its queue events, its event stream per
call), and the tally of what every pupil's requests took."""

from __future__ import annotations

import io
import json
import random
import threading
import time

import numpy as np

from .app_process import App

# timed, but not among the class's server requests: with targets of their own, or static files
NOT_REQUESTS = ("first map learning", "one training", "page load, all of it", "the browser's files")


class Pupil:
    """One pupil's page: a session, its queue events by name or by load, its own event stream per call."""

    def __init__(self, app: App, config: dict, seed: int):
        import httpx
        self.url, self.rng = app.url, random.Random(seed)
        self.session = f"pupil-{seed}-{random.getrandbits(32):x}"
        self.http = httpx.Client(timeout=120)
        self.config = config
        self.by_name = {d["api_name"]: i for i, d in enumerate(config["dependencies"]) if d.get("api_name")}
        self.values = {c["id"]: c.get("props", {}).get("value") for c in config["components"]}
        self.states = {c["id"] for c in config["components"] if c.get("type") == "state"}

    def join(self, fn_index: int, data: list) -> str:
        r = self.http.post(self.url + "gradio_api/queue/join",
                           json={"data": data, "fn_index": fn_index, "session_hash": self.session,
                                 "event_data": None, "trigger_id": None})
        if r.status_code != 200:
            raise Refused(f"HTTP {r.status_code}: {r.text[:100]}")
        return r.json()["event_id"]

    def call(self, fn, data: list, first_only: bool = False):
        """An event: its answer (or with first_only, its first message), raising on an error."""
        event_id, t0 = self.join(self.by_name[fn] if isinstance(fn, str) else fn, data), time.perf_counter()
        self.waited = 0.0
        with self.http.stream("GET", self.url + "gradio_api/queue/data", params={"session_hash": self.session}) as s:
            for line in s.iter_lines():
                if not line.startswith("data:"):
                    continue
                msg = json.loads(line[5:])
                if msg.get("event_id") != event_id:
                    continue
                if msg.get("msg") == "process_starts":
                    self.waited = (time.perf_counter() - t0) * 1000
                if msg.get("msg") == "process_completed":
                    if not msg.get("success"):
                        raise RuntimeError(str(msg.get("output", {}).get("error"))[:120])
                    return msg["output"]["data"]
                if first_only and msg.get("msg") == "process_generating":
                    return msg["output"]["data"]
        raise RuntimeError("the event stream ended without an answer")

    def page_data(self, dep: dict) -> list:
        """What the page sends for an event: its inputs' values (None for a server-side state)."""
        return [None if i in self.states else self.values.get(i) for i in dep["inputs"]]

    def open_page(self, tally: "Tally | None" = None) -> dict:
        """The page, its config, then the load events in the order the page sends them (the first view
        drawn, then the visitor's menus); each request timed on its own in `tally`."""
        tally = tally or Tally()
        tally.timed("the page", lambda: self.http.get(self.url).raise_for_status())
        tally.timed("its config", lambda: self.http.get(self.url + "config").raise_for_status())
        deps, answers = self.config["dependencies"], []
        todo = [i for i, d in enumerate(deps) if any(t[1] == "load" for t in d["targets"])]
        while todo:
            i = todo.pop(0)
            out = tally.timed("the first view", self.call, i, self.page_data(deps[i]))
            if out is None:
                raise RuntimeError("the page's first view was not drawn")
            answers.append(json.dumps(out))
            todo += [k for k, d in enumerate(deps) if d.get("trigger_after") == deps[i]["id"]]
        found = next((a for a in answers if '"decoder": "' in a), "")
        return {"decoder": found.split('"decoder": "', 1)[1].split('"', 1)[0] if found else None}

    def browser_files(self, decoder: str | None) -> None:
        """The decoder and its runtime, as the page fetches them once its first picture is drawn."""
        headers = {"accept-encoding": "gzip"}
        for path in ("vae/ort/ort.wasm.bundle.min.mjs", "vae/ort/ort-wasm-simd-threaded.wasm", decoder):
            if path:
                self.http.get(self.url + path, headers=headers).raise_for_status()


class Refused(Exception):
    pass


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.ms: dict[str, list[float]] = {}
        self.waits: dict[str, list[float]] = {}  # of each event's time, how long it waited in line
        self.timeline: list[tuple[float, str, float]] = []  # (when it was sent, what, ms)
        self.errors: list[str] = []
        self.refused = 0

    def timed(self, what: str, fn, *args, **kwargs):
        t0 = time.perf_counter()
        try:
            out = fn(*args, **kwargs)
        except Refused as e:
            with self.lock:
                self.refused += 1
                self.errors.append(f"{what}: refused {e}")
            return None
        except Exception as e:  # counted and shown
            with self.lock:
                self.errors.append(f"{what}: {str(e)[:120]}")
            return None
        with self.lock:
            self.ms.setdefault(what, []).append((time.perf_counter() - t0) * 1000)
            self.timeline.append((t0, what, self.ms[what][-1]))
            if getattr(fn, "__name__", "") == "call" and isinstance(getattr(fn, "__self__", None), Pupil):
                self.waits.setdefault(what, []).append(fn.__self__.waited)
        return out

    def as_dict(self) -> dict:
        return {"ms": self.ms, "waits": self.waits, "timeline": self.timeline, "errors": self.errors,
                "refused": self.refused}

    def merge(self, other: dict) -> None:
        with self.lock:
            for mine, theirs in ((self.ms, other["ms"]), (self.waits, other["waits"])):
                for what, ms in theirs.items():
                    mine.setdefault(what, []).extend(ms)
            self.timeline += other["timeline"]
            self.errors += other["errors"]
            self.refused += other["refused"]

    def all_ms(self) -> list[float]:
        """Every server request's time, but the ones with targets of their own and the static files."""
        return [m for k, v in self.ms.items() if k not in NOT_REQUESTS for m in v]


def upload(pupil: Pupil, picture: bytes) -> dict:
    r = pupil.http.post(pupil.url + "gradio_api/upload", files={"files": ("seven.png", picture, "image/png")})
    r.raise_for_status()
    return {"path": r.json()[0], "meta": {"_type": "gradio.FileData"}, "orig_name": "seven.png"}


def seven_png() -> bytes:
    from PIL import Image
    a = np.full((200, 160), 250, np.uint8)
    a[30:50, 30:130], a[50:170, 100:120] = 20, 20
    out = io.BytesIO()
    Image.fromarray(a).save(out, format="PNG")
    return out.getvalue()
