"""A class at once: thirty pupils behind one school address, speaking to the server as the page now does,
a flood from a script at that same address, and one training; the same pupil alone first, in the same run.

    python -m benchmarks.classroom [--pupils 30] [--seconds 60] [--smoke]

A pupil's page, as ui/ serves it: the page and its config, the first view's drawing (the page's load
events), the browser's decoder and its runtime (static files), then over the minute: clicks on map dots,
Generate drags (drawn in the browser: only the map's update once a drag pauses reaches the server), Make a
digit, now and then an upload, and one press of Watch it learn (its recording must show within 10 s, while
the run waits its turn). Also: eight pupils opening the page together while a script sends 240 /decode
calls from their address. Run from benchmarks/load.py too. 127.0.0.1 only; bounded in count and time.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from vae_core.worker import PROCESS_NAME

from .app_process import MAIN, App, children_of, pct

SCHOOL_FLOOD_SESSIONS, SCHOOL_FLOOD_REQUESTS = 60, 4  # the flood: 60 sessions x 4 requests
TARGET_P95_MS = 500


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
        event_id = self.join(self.by_name[fn] if isinstance(fn, str) else fn, data)
        with self.http.stream("GET", self.url + "gradio_api/queue/data", params={"session_hash": self.session}) as s:
            for line in s.iter_lines():
                if not line.startswith("data:"):
                    continue
                msg = json.loads(line[5:])
                if msg.get("event_id") != event_id:
                    continue
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
        return out

    def all_ms(self, leave=("first map learning", "one training", "page load, all of it",
                            "the browser's files")) -> list[float]:
        """Every server request's time, but the ones with targets of their own and the static files."""
        return [m for k, v in self.ms.items() if k not in leave for m in v]


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


def pupil_lesson(app: App, config: dict, tally: Tally, until: float, seed: int, learn_at: float | None,
                 streams: list) -> None:
    """One pupil for the phase: open the page, then do what a pupil does until `until`."""
    pupil = Pupil(app, config, seed)
    rng, picture = pupil.rng, seven_png()
    time.sleep(rng.uniform(0, 3))
    opened = tally.timed("page load, all of it", pupil.open_page, tally)
    tally.timed("the browser's files", pupil.browser_files, (opened or {}).get("decoder"))
    while time.time() < until:
        if learn_at is not None and time.time() >= learn_at:
            learn_at = None
            threading.Thread(target=watch_learn, args=(app, config, tally, seed, until, streams), daemon=True).start()
        action = rng.random()
        if action < 0.35:
            tally.timed("map click", pupil.call, "map_click", [MAIN, json.dumps({"index": rng.randrange(10000)}), None])
        elif action < 0.7:  # a drag, drawn in the browser; once it pauses the map follows
            z = [round(rng.uniform(-2, 2), 2) for _ in range(8)]
            tally.timed("map after a drag", pupil.call, "point_on_map",
                        [MAIN, {"codes": [[0.0] * 32], "dims": list(range(8))}, *z])
        elif action < 0.92:
            tally.timed("make a digit", pupil.call, "make_digits", [MAIN, str(rng.randrange(10)), 1.0, None])
        else:
            file = tally.timed("upload", upload, pupil, picture)
            if file:
                tally.timed("upload", pupil.call, "encode_upload", [MAIN, file])
        time.sleep(rng.uniform(2, 6))


def watch_learn(app: App, config: dict, tally: Tally, seed: int, until: float, streams: list) -> None:
    """Press Watch it learn: the first message (with the recording to play) within 10 s; the page then stays
    open, reading its run, until the phase ends, and goes."""
    import httpx
    pupil = Pupil(app, config, 10_000 + seed)
    t0 = time.perf_counter()
    try:
        event_id = pupil.join(pupil.by_name["watch_learn"], [3000, 10])  # the view's default run
    except Refused as e:
        with tally.lock:
            tally.refused += 1
            tally.errors.append(f"watch it learn: refused {e}")
        return
    try:
        with pupil.http.stream("GET", pupil.url + "gradio_api/queue/data", params={"session_hash": pupil.session},
                               timeout=httpx.Timeout(5, read=None)) as s:
            streams.append(s)
            first = True
            for line in s.iter_lines():
                msg = json.loads(line[5:]) if line.startswith("data:") else {}
                if msg.get("event_id") == event_id and msg.get("msg") in ("process_generating", "process_completed"):
                    if first:
                        first = False
                        with tally.lock:
                            tally.ms.setdefault("first map learning", []).append((time.perf_counter() - t0) * 1000)
                        recording = json.dumps(msg["output"].get("data"))
                        if "watch-it-learn.json" in recording:
                            url = "vae/files/" + recording.split("vae/files/", 1)[1].split('"', 1)[0]
                            pupil.http.get(pupil.url + url).raise_for_status()
                    if msg["msg"] == "process_completed" or time.time() > until:
                        break
    except Exception as e:  # a stream cut at the phase's end is expected; anything else is counted
        if time.time() < until:
            with tally.lock:
                tally.errors.append(f"watch it learn: {str(e)[:120]}")


def school_flood(app: App, fn_index: int, codes: dict, sessions: int, requests: int) -> None:
    """A script at the school's address: `sessions` sessions each sending `requests` /decode at once."""
    import httpx

    def one(i):
        with httpx.Client(timeout=60) as http:
            for _ in range(requests):
                r = http.post(app.url + "gradio_api/queue/join",
                              json={"data": [MAIN, [0.0] * 32], "fn_index": fn_index, "session_hash": f"flood-{i}"})
                codes[r.status_code] = codes.get(r.status_code, 0) + 1
    threads = [threading.Thread(target=one, args=(i,)) for i in range(sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)


def trainer_children(app: App) -> int:
    """The app's training processes now (each names itself PROCESS_NAME), <defunct> ones included."""
    out = 0
    for pid in children_of(app.proc.pid):
        try:
            out += Path(f"/proc/{pid}/comm").read_text().strip() == PROCESS_NAME
        except OSError:
            continue
    return out


def phase_class(app: App, pupils: int, seconds: float, train_images: int) -> dict:
    """The pupil alone first, then the class with the flood and one training; the same measures."""
    import httpx
    config = httpx.get(app.url + "config", timeout=30).json()
    alone = Tally()
    pupil_lesson(app, config, alone, time.time() + seconds / 4, 999, None, [])
    tally, until, streams, flood_codes, most = Tally(), time.time() + seconds, [], {}, [0]
    trainer = threading.Thread(target=lambda: tally.timed(
        "one training", app.client().predict, 2.0, 1, train_images, api_name="/train"), daemon=True)
    trainer.start()
    fn = next(i for i, d in enumerate(config["dependencies"]) if d.get("api_name") == "decode")
    flood = threading.Timer(seconds / 6, school_flood, (app, fn, flood_codes, SCHOOL_FLOOD_SESSIONS,
                                                        SCHOOL_FLOOD_REQUESTS))
    flood.start()
    watcher_stop = threading.Event()

    def count_trainers():
        while not watcher_stop.is_set():
            most[0] = max(most[0], trainer_children(app))
            time.sleep(0.5)
    watcher = threading.Thread(target=count_trainers, daemon=True)
    watcher.start()
    threads = [threading.Thread(target=pupil_lesson, args=(app, config, tally, until, i,
                                                           time.time() + random.uniform(0, seconds * 0.8), streams))
               for i in range(pupils)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 300)
    flood.join(120)
    for s in streams:  # the pupils close their tabs
        try:
            s.close()
        except Exception:
            pass
    trainer.join(600)
    time.sleep(12)  # their runs notice they are gone
    watcher_stop.set()
    return {"alone": alone, "class": tally, "flood": flood_codes, "trainers_most": most[0],
            "trainers_after": trainer_children(app)}


def phase_first_pictures(app: App, pupils: int = 8, flood_calls: int = 240) -> dict:
    """Eight pupils open the page together while a script sends 240 /decode calls from their address."""
    import httpx
    config = httpx.get(app.url + "config", timeout=30).json()
    fn = next(i for i, d in enumerate(config["dependencies"]) if d.get("api_name") == "decode")
    codes, tally = {}, Tally()
    flood = threading.Thread(target=school_flood, args=(app, fn, codes, flood_calls // 4, 4))
    flood.start()
    time.sleep(0.3)  # the flood under way
    threads = [threading.Thread(target=lambda i=i: tally.timed("first picture", Pupil(app, config, 500 + i).open_page,
                                                               Tally())) for i in range(pupils)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    flood.join(120)
    return {"tally": tally, "flood": codes}


def report(result: dict, first: dict, pupils: int) -> None:
    alone, tally = result["alone"], result["class"]
    a50, a95 = pct(alone.all_ms())
    c50, c95 = pct(tally.all_ms())
    print(f"a pupil alone: {len(alone.all_ms())} server requests, p50 {a50:.0f} ms, p95 {a95:.0f} ms, "
          f"{len(alone.errors)} errors")
    print(f"the class ({pupils} pupils, one address) + a flood from it + one training: {len(tally.all_ms())} server "
          f"requests, p50 {c50:.0f} ms, p95 {c95:.0f} ms (target <= {TARGET_P95_MS}: "
          f"{'met' if c95 <= TARGET_P95_MS else 'NOT met'}); {len(tally.errors)} errors, {tally.refused} refused")
    for what, ms in sorted(tally.ms.items()):
        p50, p95 = pct(ms)
        print(f"  {what}: {len(ms)}, p50 {p50:.0f} ms, p95 {p95:.0f} ms, worst {max(ms):.0f} ms")
    for e in tally.errors[:5]:
        print(f"  error: {e}")
    print(f"the flood ({SCHOOL_FLOOD_SESSIONS} sessions x {SCHOOL_FLOOD_REQUESTS} /decode): answers {result['flood']}")
    print(f"trainer processes: at most {result['trainers_most']} at once (slots: the app's cores - 1, 1 to 4), "
          f"{result['trainers_after']} left after the pupils had gone")
    ms = first["tally"].ms.get("first picture", [])
    print(f"{len(ms)} pupils opening the page together beside 240 /decode from their address "
          f"({first['flood']}): first pictures after {', '.join(f'{m / 1000:.1f}' for m in sorted(ms))} s; "
          f"{len(first['tally'].errors)} errors")


def run(app: App, pupils: int, seconds: float, smoke: bool) -> None:
    """Both phases on a running app (from here, or from benchmarks/load.py), and their report."""
    first = phase_first_pictures(app, 2 if smoke else 8, 40 if smoke else 240)
    result = phase_class(app, pupils, seconds, 500 if smoke else 3000)
    report(result, first, pupils)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.classroom", description=__doc__.splitlines()[0])
    parser.add_argument("--pupils", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--smoke", action="store_true", help="3 pupils for a few seconds: the script runs")
    parser.add_argument("--port", type=int, default=7931)
    args = parser.parse_args(argv)
    pupils, seconds = (3, 8) if args.smoke else (args.pupils, args.seconds)
    with tempfile.TemporaryDirectory() as tmp:
        print(f"a class on 127.0.0.1: {os.cpu_count()} CPU cores, {pupils} pupils, {seconds:.0f} s")
        app = App(Path(tmp), args.port)
        try:
            app.client().predict(MAIN, [0.0] * 32, api_name="/decode")
            time.sleep(2 if args.smoke else 25)  # the start-up work done (decoders exported, maps made)
            run(app, pupils, seconds, args.smoke)
        finally:
            app.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
