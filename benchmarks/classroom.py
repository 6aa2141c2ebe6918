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
import json
import os
import random
import tempfile
import threading
import time
from pathlib import Path

from vae_core.worker import PROCESS_NAME

from .app_process import MAIN, App, children_of, pct
from .pupil import NOT_REQUESTS, Pupil, Refused, Tally, seven_png, upload

SCHOOL_FLOOD_SESSIONS, SCHOOL_FLOOD_REQUESTS = 60, 4  # the flood: 60 sessions x 4 requests
TARGET_P95_MS = 500
PUPILS_PER_PROCESS = 5


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


class CpuWatch:
    """Cores used over a phase, by whom: the app's server, its training and other processes, this script."""

    def __init__(self, app: App):
        self.app, self.seen, self.used, self.mine = app, {}, {}, set()

    def _ticks(self, pid: int) -> tuple[str, int] | None:
        try:
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        who = ("the app's server" if pid == self.app.proc.pid else "these visitors (this script)"
               if pid in self.mine else "training" if comm == PROCESS_NAME else f"the app's {comm}")
        return who, int(fields[11]) + int(fields[12])

    def sample(self) -> None:
        self.mine = {os.getpid(), *children_of(os.getpid())}
        for pid in [self.app.proc.pid, *self.mine, *children_of(self.app.proc.pid)]:
            got = self._ticks(pid)
            if got is not None:
                who, ticks = got
                self.used[who] = self.used.get(who, 0) + ticks - self.seen.get(pid, ticks)
                self.seen[pid] = ticks

    def cores(self, seconds: float) -> dict[str, float]:
        return {who: ticks / os.sysconf("SC_CLK_TCK") / seconds for who, ticks in self.used.items()}


def trainer_children(app: App) -> int:
    """The app's training processes now (each names itself PROCESS_NAME), <defunct> ones included."""
    out = 0
    for pid in children_of(app.proc.pid):
        try:
            out += Path(f"/proc/{pid}/comm").read_text().strip() == PROCESS_NAME
        except OSError:
            continue
    return out


def pupils_apart(app: App, config: dict, seeds: list[int], until: float, learn_ats: list[float], out) -> None:
    """Some of the class in a process of their own (thirty phones are thirty machines: in one process the
    pupils' own threads would wait for each other's turn at its interpreter lock, and the figures with them);
    their tabs closed at the end, their tally sent back through `out`."""
    tally, streams = Tally(), []
    threads = [threading.Thread(target=pupil_lesson, args=(app, config, tally, until, seed, learn_at, streams))
               for seed, learn_at in zip(seeds, learn_ats)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(until - time.time() + 300)
    for s in streams:  # the pupils close their tabs
        try:
            s.close()
        except Exception:
            pass
    out.put(tally.as_dict())


def phase_class(app: App, pupils: int, seconds: float, train_images: int) -> dict:
    """The pupil alone first, then the class with the flood and one training; the same measures."""
    import multiprocessing

    import httpx
    config = httpx.get(app.url + "config", timeout=30).json()
    alone = Tally()
    pupil_lesson(app, config, alone, time.time() + seconds / 4, 999, None, [])
    tally, until, flood_codes, most = Tally(), time.time() + seconds, {}, [0]
    context, seeds = multiprocessing.get_context("fork"), list(range(pupils))  # forked before any thread starts
    results = context.Queue()
    groups = [context.Process(target=pupils_apart, daemon=True, args=(
        app, config, seeds[i:i + PUPILS_PER_PROCESS], until,
        [time.time() + random.uniform(0, seconds * 0.8) for _ in seeds[i:i + PUPILS_PER_PROCESS]], results))
        for i in range(0, pupils, PUPILS_PER_PROCESS)]
    for g in groups:
        g.start()
    trainer = threading.Thread(target=lambda: tally.timed(
        "one training", app.client().predict, 2.0, 1, train_images, api_name="/train"), daemon=True)
    trainer.start()
    fn = next(i for i, d in enumerate(config["dependencies"]) if d.get("api_name") == "decode")
    flood = threading.Timer(seconds / 6, school_flood, (app, fn, flood_codes, SCHOOL_FLOOD_SESSIONS,
                                                        SCHOOL_FLOOD_REQUESTS))
    flood.start()
    watcher_stop, cpu, began = threading.Event(), CpuWatch(app), time.time()

    def count_trainers():
        while not watcher_stop.is_set():
            most[0] = max(most[0], trainer_children(app))
            if time.time() < until:
                cpu.sample()
            time.sleep(0.5)
    watcher = threading.Thread(target=count_trainers, daemon=True)
    watcher.start()
    for _ in groups:
        tally.merge(results.get(timeout=seconds + 600))
    for g in groups:
        g.join(60)
    flood.join(120)
    trainer.join(600)
    time.sleep(12)  # their runs notice they are gone
    watcher_stop.set()
    return {"alone": alone, "class": tally, "flood": flood_codes, "trainers_most": most[0],
            "cores": cpu.cores(until - began),
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
        waits = tally.waits.get(what)
        waited = f" (in line: p50 {pct(waits)[0]:.0f}, p95 {pct(waits)[1]:.0f} ms)" if waits else ""
        print(f"  {what}: {len(ms)}, p50 {p50:.0f} ms, p95 {p95:.0f} ms, worst {max(ms):.0f} ms{waited}")
    timed = [(t, ms) for t, what, ms in tally.timeline if what not in NOT_REQUESTS]
    if timed:
        began, windows = min(t for t, _ in timed), {}
        for t, ms in timed:
            windows.setdefault(int((t - began) // 10), []).append(ms)
        print("  p95 by 10 s of the minute: " + ", ".join(f"{10 * w}-{10 * w + 10} s {pct(ms)[1]:.0f} ms"
                                                        for w, ms in sorted(windows.items())))
    for e in tally.errors[:5]:
        print(f"  error: {e}")
    print("cores in use over the class's minute (of " + str(os.cpu_count()) + "): " +
          ", ".join(f"{who} {used:.2f}" for who, used in sorted(result["cores"].items(), key=lambda kv: -kv[1])))
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
            if args.smoke:
                time.sleep(2)
            else:  # a lesson starts on a warm app: its codes, maps and decoders made
                print(f"the app's start-up work done {app.warmed_up():.0f} s after its first picture")
            run(app, pupils, seconds, args.smoke)
        finally:
            app.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
