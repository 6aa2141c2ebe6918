"""Load and faults: many visitors and a training at once, a flood from one client, a class at once
(benchmarks/classroom.py), hostile uploads, and kill -9 of the app and of the command-line trainer.

    python -m benchmarks.load [--smoke] [--visitors 10] [--seconds 60] [--pupils 30]

Everything runs against 127.0.0.1 only, bounded in count and time, and stops by itself. It prints the
requests made, the errors, a page event's p50/p95 idle and loaded (and their ratio), memory and disk
before and after, and what each kill left behind. Sliders are drawn in the visitor's browser, so the
page event timed is a click on a map dot, the event a visitor sends most.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from . import classroom
from .app_process import MAIN, ROOT, App, children_of, du_mib, pct, rss_mib

EVENT_TARGET_MS = 300


class Browserlike:
    """A visitor's session as the page speaks it: join the queue, read the answer from the event stream."""

    def __init__(self, app: "App", headers: dict | None = None):
        import httpx
        self.url, self.session = app.url, f"load-{random.getrandbits(48):x}"
        self.http = httpx.Client(timeout=60, headers=headers)
        config = self.http.get(self.url + "config").json()
        self.fn = {d["api_name"]: i for i, d in enumerate(config["dependencies"]) if d.get("api_name")}

    def call(self, api_name: str, data: list):
        r = self.http.post(self.url + "gradio_api/queue/join",
                           json={"data": data, "fn_index": self.fn[api_name], "session_hash": self.session,
                                 "event_data": None, "trigger_id": None})
        if r.status_code != 200:
            raise RuntimeError(f"HTTP {r.status_code}: {r.text[:100]}")
        event_id = r.json()["event_id"]
        with self.http.stream("GET", self.url + "gradio_api/queue/data", params={"session_hash": self.session}) as s:
            for line in s.iter_lines():
                if not line.startswith("data:"):
                    continue
                msg = json.loads(line[5:])
                if msg.get("msg") == "process_completed" and msg.get("event_id") == event_id:
                    if not msg.get("success"):
                        raise RuntimeError(str(msg.get("output", {}).get("error"))[:120])
                    return msg["output"]["data"]
        raise RuntimeError("the event stream ended without an answer")


class Tally:
    def __init__(self):
        self.lock, self.requests, self.errors, self.event_ms = threading.Lock(), 0, [], []

    def call(self, visitor: Browserlike, api_name: str, data: list, timed: bool = False):
        t0 = time.perf_counter()
        try:
            out = visitor.call(api_name, data)
        except Exception as e:  # every error is counted and shown
            with self.lock:
                self.requests += 1
                self.errors.append(f"{api_name}: {str(e)[:120]}")
            return None
        ms = (time.perf_counter() - t0) * 1000
        with self.lock:
            self.requests += 1
            if timed:
                self.event_ms.append(ms)
        return out


def visitor(app: App, tally: Tally, until: float, seed: int, clicks_only: bool = False) -> None:
    """One visitor, faster than any: clicking map dots (a request every ~100 ms), now and then something else."""
    rng = random.Random(seed)
    page = Browserlike(app)
    while time.time() < until:
        tally.call(page, "map_click", [MAIN, json.dumps({"index": rng.randrange(10000)}), None], timed=True)
        if not clicks_only and rng.random() < 0.15:
            name, data = rng.choice([("decode", [MAIN, [0.0] * 32]), ("sample_grid", [MAIN, 1.0]),
                                     ("random_digit", [str(rng.randrange(10)), MAIN]), ("show_beta", [2.0]),
                                     ("interpolate_codes", [MAIN, rng.randrange(10000), rng.randrange(10000), 8,
                                                            "linear"]),
                                     ("latent_map", [MAIN, "PCA", True])])
            tally.call(page, name, data)
        time.sleep(rng.uniform(0.05, 0.15))


def run_visitors(app: App, n: int, seconds: float, clicks_only: bool = False) -> Tally:
    tally, until = Tally(), time.time() + seconds
    threads = [threading.Thread(target=visitor, args=(app, tally, until, i, clicks_only)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 120)
    return tally


def phase_load(app: App, visitors: int, seconds: float, epochs: int, images: int) -> dict:
    """One visitor alone, then `visitors` visitors while one visitor trains; the same measure in one run."""
    idle = run_visitors(app, 1, seconds / 3, clicks_only=True)
    trainer_client, training = app.client(), {}

    def train():
        t0 = time.perf_counter()
        job = trainer_client.submit(2.0, epochs, images, api_name="/train")
        job.result(timeout=seconds + 900)
        training["status"], training["seconds"] = job.outputs()[-1][0], time.perf_counter() - t0
    trainer = threading.Thread(target=train)
    trainer.start()
    time.sleep(3)  # the training process is up and working
    loaded = run_visitors(app, visitors, seconds)
    trainer.join(timeout=900)
    return {"idle": idle, "loaded": loaded, "training": training}


def phase_flood(app: App, joins: int, seconds: float) -> dict:
    """One session sends `joins` requests as fast as it can; another visitor goes on clicking."""
    import httpx
    config = httpx.get(app.url + "config", timeout=10).json()
    fn_index = next(i for i, d in enumerate(config["dependencies"]) if d.get("api_name") == "show_beta")
    codes: dict[int, int] = {}
    tally, until = Tally(), time.time() + seconds

    def flood():
        with httpx.Client(timeout=10) as http:
            for _ in range(joins):
                r = http.post(app.url + "gradio_api/queue/join",
                              json={"data": [4.0], "fn_index": fn_index, "session_hash": "flooder"})
                codes[r.status_code] = codes.get(r.status_code, 0) + 1
    flooder = threading.Thread(target=flood)
    flooder.start()
    visitor(app, tally, until, 99, clicks_only=True)
    flooder.join(60)
    return {"flood_codes": codes, "other": tally}


def phase_hostile_uploads(app: App, tmp: Path, count: int) -> dict:
    """Small files that would be huge once decoded, and an oversized JSON body: memory before and after."""
    import httpx
    from gradio_client import handle_file
    from PIL import Image
    bomb = tmp / "bomb.png"
    Image.new("RGBA", (5790, 5790), (255, 255, 255, 0)).save(bomb)
    before = rss_mib(app.proc.pid)
    client, refused = app.client(), 0
    for _ in range(count):
        try:
            client.predict(MAIN, handle_file(str(bomb)), api_name="/encode_upload")
        except Exception as e:
            refused += "limit" in str(e)
    t0 = time.perf_counter()
    body = json.dumps({"data": [MAIN, [[0.5] * 2000] * 2000], "fn_index": 0, "session_hash": "big"})
    status = httpx.post(app.url + "gradio_api/queue/join", content=body, timeout=60,
                        headers={"content-type": "application/json"}).status_code
    return {"bomb_bytes": bomb.stat().st_size, "uploads": count, "refused": refused,
            "rss_before": before, "rss_after": rss_mib(app.proc.pid), "big_json_status": status,
            "big_json_mb": len(body) / 1e6, "big_json_s": time.perf_counter() - t0}


def phase_kill_app_while_training(tmp: Path, port: int, images: int) -> dict:
    """kill -9 of the app in the middle of a visitor's training: the run stops, nothing half-made shows."""
    app = App(tmp, port)
    job = app.client().submit(2.0, 2, images, api_name="/train")
    deadline = time.time() + 180
    while time.time() < deadline and not list((tmp / "runs").glob("mnist-z32-beta2-*")):
        time.sleep(0.5)  # until the first epoch is saved
    time.sleep(1.0)
    children = children_of(app.proc.pid)
    app.stop(kill=True)
    del job
    time.sleep(8)  # the orphaned training notices its parent is gone at its next step
    orphans = [pid for pid in children if Path(f"/proc/{pid}").exists()]
    app = App(tmp, port)
    answers = len(app.client().predict(MAIN, [0.0] * 32, api_name="/decode")["image"]) == 28
    from vae_core.checkpoints import list_checkpoints
    listed = [(c["name"], c["config"]["progress"]) for c in list_checkpoints(tmp / "runs")]
    app.stop()
    return {"orphans": len(orphans), "listed": listed, "api_ok": answers,
            "leftovers": [p.name for p in (tmp / "runs").iterdir() if p.name.startswith(".")]}


def phase_kill_cli_trainer(tmp: Path, data_dir: str, kills: list[float], epochs: int, images: int) -> list[dict]:
    """kill -9 of `python -m vae_core.train` at several moments, then --resume to the end each time."""
    from vae_core import load_model
    from vae_core.checkpoints import read_config
    out, results = tmp / "cli-run", []
    base = [sys.executable, "-m", "vae_core.train", "--data-dir", data_dir, "--train-limit", str(images),
            "--val-size", "500", "--epochs", str(epochs), "--device", "cpu", "--quiet", "--out", str(out)]
    for at in kills:
        resume = ["--resume", str(out)] if out.exists() else []
        proc = subprocess.Popen(base + resume, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(at)
        proc.kill()
        proc.wait()
        state = "no checkpoint yet"
        if out.exists() or any(tmp.glob(".cli-run.*")):
            model = load_model(out)  # also finishes an interrupted swap
            state = f"whole, epoch {read_config(out)['progress']['epoch']} (latent {model.latent_dim})"
        results.append({"killed_after_s": at, "left": state})
    finish = subprocess.run(base + (["--resume", str(out)] if out.exists() else []), cwd=ROOT,
                            capture_output=True, text=True, timeout=900)
    metrics = json.loads((out / "metrics.json").read_text())["training"]
    results.append({"resumed_to_the_end": finish.returncode == 0, "epochs": metrics["epochs"],
                    "commands": len(metrics["commands"]), "history": len(metrics["history"])})
    return results


def phase_rotating(app: App, connections: int, seconds: float, same_address: bool) -> dict:
    """`connections` connections from one address join `/decode` as fast as they can, each join with a new
    session (so the per-session limit never stops them), while a visitor decodes too: from another address
    (as behind a Space's proxy, which names each visitor's address in X-Forwarded-For), or from the same
    one, where the queue takes them in order as before it took turns by address."""
    import httpx
    flooder, visitor_address = {"x-forwarded-for": "198.51.100.66"}, "198.51.100.66" if same_address else "192.0.2.9"
    config = httpx.get(app.url + "config", timeout=10).json()
    fn_index = next(i for i, d in enumerate(config["dependencies"]) if d.get("api_name") == "decode")
    codes: dict[int, int] = {}
    stop = time.time() + seconds

    def flood():
        with httpx.Client(timeout=10, headers=flooder) as http:
            while time.time() < stop:
                r = http.post(app.url + "gradio_api/queue/join",
                              json={"data": [MAIN, [0.0] * 32], "fn_index": fn_index,
                                    "session_hash": f"rot-{random.getrandbits(48):x}"})
                codes[r.status_code] = codes.get(r.status_code, 0) + 1
    threads = [threading.Thread(target=flood) for _ in range(connections)]
    for t in threads:
        t.start()
    time.sleep(1.0)  # the flood under way
    page, tally = Browserlike(app, {"x-forwarded-for": visitor_address}), Tally()
    while time.time() < stop:
        tally.call(page, "decode", [MAIN, [round(random.uniform(-2, 2), 2) for _ in range(32)]], timed=True)
        time.sleep(0.1)
    for t in threads:
        t.join(30)
    time.sleep(5)  # the queue drains before the next phase
    return {"flood_codes": codes, "other": tally}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load", description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="a few seconds per phase, to check the script runs")
    parser.add_argument("--visitors", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=60, help="length of the loaded phase")
    parser.add_argument("--pupils", type=int, default=30, help="the class phase's pupils, at one address")
    parser.add_argument("--port", type=int, default=7921)
    args = parser.parse_args(argv)
    from vae_core import data
    data_dir = str(data.resolve_data_dir())
    seconds, visitors = (4, 2) if args.smoke else (args.seconds, args.visitors)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        print(f"load test on 127.0.0.1, {os.cpu_count()} CPU cores, {visitors} visitors, {seconds:.0f} s loaded")
        (tmp / "a").mkdir()
        app = App(tmp / "a", args.port)
        app.client().predict(MAIN, [0.0] * 32, api_name="/decode")
        if args.smoke:
            time.sleep(2)
        else:
            print(f"the app's start-up work done {app.warmed_up():.0f} s after its first picture")
        rss0, disk0 = rss_mib(app.proc.pid), du_mib(*app.dirs)
        report(phase_load(app, visitors, seconds, *((1, 1000) if args.smoke else (2, 60000))))
        flood = phase_flood(app, 20 if args.smoke else 72, 2 if args.smoke else 10)
        p50, p95 = pct(flood["other"].event_ms)
        print(f"flood: one session sent {sum(flood['flood_codes'].values())} joins, answers {flood['flood_codes']}; "
              f"another visitor meanwhile: {flood['other'].requests} requests, {len(flood['other'].errors)} errors, "
              f"map click p50 {p50:.0f} ms p95 {p95:.0f} ms")
        for same in (True, False):
            rot = phase_rotating(app, 10, 2 if args.smoke else 20, same_address=same)
            p50, p95 = pct(rot["other"].event_ms)
            print(f"10 connections joining /decode with a new session each time, {rot['flood_codes']}; another "
                  f"visitor's /decode {'from the same address' if same else 'from another address'}: "
                  f"{rot['other'].requests} requests, {len(rot['other'].errors)} errors, p50 {p50:.0f} ms p95 {p95:.0f} ms")
        classroom.run(app, 3 if args.smoke else args.pupils, 8 if args.smoke else 60, args.smoke)
        up = phase_hostile_uploads(app, tmp, 2 if args.smoke else 6)
        print(f"hostile uploads: {up['uploads']} PNGs of {up['bomb_bytes'] / 1e3:.0f} KB (5790x5790), "
              f"{up['refused']} refused; RSS {up['rss_before']:.0f} -> {up['rss_after']:.0f} MiB; "
              f"a {up['big_json_mb']:.0f} MB JSON body: HTTP {up['big_json_status']} in {up['big_json_s']:.2f} s")
        print(f"memory: {rss0:.0f} MiB before, {rss_mib(app.proc.pid):.0f} MiB after; "
              f"disk (runs, caches, Gradio temp): {disk0:.1f} MiB before, {du_mib(*app.dirs):.1f} MiB after")
        app.stop()
        (tmp / "k").mkdir()
        killed = phase_kill_app_while_training(tmp / "k", args.port + 1, 1000 if args.smoke else 3000)
        print(f"kill -9 of the app while training: {killed['orphans']} training processes left running; "
              f"after restart the runs folder lists {killed['listed']}; leftovers {killed['leftovers']}; "
              f"the restarted app answers: {killed['api_ok']}")
        kills = [4.0] if args.smoke else [6.0, 11.0, 16.0, 21.0]
        for row in phase_kill_cli_trainer(tmp, data_dir, kills, *((2, 2000) if args.smoke else (4, 20000))):
            print(f"kill -9 of the CLI trainer: {row}")
    return 0


def report(result: dict) -> None:
    idle, loaded = result["idle"], result["loaded"]
    (i50, i95), (l50, l95) = pct(idle.event_ms), pct(loaded.event_ms)
    print(f"idle: {idle.requests} requests, {len(idle.errors)} errors, map click p50 {i50:.0f} ms p95 {i95:.0f} ms")
    print(f"loaded (visitors + one training): {loaded.requests} requests, {len(loaded.errors)} errors, "
          f"map click p50 {l50:.0f} ms p95 {l95:.0f} ms; p95 loaded / idle = {l95 / i95:.1f}; "
          f"target p95 <= {EVENT_TARGET_MS} ms: {'met' if l95 <= EVENT_TARGET_MS else 'NOT met'}")
    for e in (idle.errors + loaded.errors)[:5]:
        print(f"  error: {e}")
    t = result["training"]
    print(f"training during the load: {t.get('status', 'did not finish')!s:.120} ({t.get('seconds', 0):.0f} s)")


if __name__ == "__main__":
    raise SystemExit(main())
