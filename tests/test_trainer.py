"""The app's trainer (ui/trainer.py): slots, one line, places and estimates, cancel, visitors who leave,
and no process left behind."""

import asyncio
import os
import threading
import time
from pathlib import Path

import pytest

from conftest import run_async

from ui import trainer
from ui.trainer import Finished, Job, Refused, Running, Trainer, Waiting
from vae_core.config import TrainConfig
from vae_core.model import ModelConfig
from vae_core.worker import Outcome


class FakeRun:
    """Stands in for TrainingProcess: a step every `STEP` seconds for `STEPS` steps, stopping when asked."""

    STEP, STEPS = 0.02, 20
    alive = 0

    def __init__(self, *args, **kwargs):
        self.outcome = None
        FakeRun.alive += 1

    def updates(self, cancel_when=lambda: False):
        for step in range(1, self.STEPS + 1):
            if cancel_when():
                self.outcome = Outcome(0, True, step * self.STEP, "cpu")
                return
            time.sleep(self.STEP)
            yield {"kind": "step", "step": step}
        self.outcome = Outcome(1, False, self.STEPS * self.STEP, "cpu")

    def close(self):
        FakeRun.alive -= 1


@pytest.fixture
def fake(monkeypatch):
    monkeypatch.setattr(trainer, "TrainingProcess", FakeRun)
    FakeRun.alive = 0
    yield FakeRun
    assert FakeRun.alive == 0  # every run's process was closed


def _job(kind="learn", finished=None, images=1000) -> Job:
    return Job(kind, ModelConfig(latent_dim=2), TrainConfig(epochs=1), "data", Path("out"), images,
               finished=finished or (lambda outcome: None))


def _follow(t: Trainer, ticket, limit=30.0) -> list:
    """Everything a follower hears until its run is finished."""
    async def go():
        heard = []
        async for news in t.follow(ticket):
            heard.append(news)
        return heard
    return run_async(asyncio.wait_for(go(), limit))


def _wait(predicate, limit=10.0):
    deadline = time.monotonic() + limit
    while not predicate():
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_runs_take_the_slots_then_the_line_in_order_and_each_hears_its_place(fake):
    t = Trainer(slots=2)
    ended = []
    tickets = [t.submit(_job(finished=lambda o, i=i: ended.append(i)), f"v{i}", "school") for i in range(5)]
    assert [k.state for k in tickets] == ["running", "running", "waiting", "waiting", "waiting"]
    heard = _follow(t, tickets[4])
    places = [n.position for n in heard if isinstance(n, Waiting)]
    assert places[0] == 3 and places == sorted(places, reverse=True)  # it moves up the line
    assert any(isinstance(n, Running) and n.updates for n in heard) and isinstance(heard[-1], Finished)
    for k in tickets[:4]:
        _follow(t, k)
    assert sorted(ended) == [0, 1, 2, 3, 4] and ended.index(2) < ended.index(4)  # first come, first served
    assert t.running() == t.waiting() == 0


def test_the_estimate_counts_the_runs_ahead_and_learns_the_pace_of_runs_here(fake):
    t = Trainer(slots=1)
    first = t.submit(_job(images=120_000), "a", "x")  # 120,000 images at 1/1200 s each: about 100 s
    second = t.submit(_job(images=1200), "b", "x")
    place, seconds = t._estimate(second)
    assert place == 1 and 90 < seconds < 120
    t.cancel("a")
    _follow(t, first)
    _follow(t, second)  # 0.4 s for 1,200 images: far quicker than the default pace
    assert t.seconds_for("learn", 1200) < trainer.STARTUP_SECONDS + 1.0


def test_one_run_per_visitor_and_the_line_is_bounded_per_network(fake, monkeypatch):
    monkeypatch.setattr(trainer, "PER_ADDRESS", 3)
    t = Trainer(slots=1)
    t.submit(_job(), "pupil-1", "school")
    with pytest.raises(Refused, match="You have a run already"):
        t.submit(_job(), "pupil-1", "school")
    for i in range(2, 5):
        t.submit(_job(), f"pupil-{i}", "school")
    with pytest.raises(Refused, match="line is full"):
        t.submit(_job(), "script-1", "school")  # a fourth place in line from that network
    t.submit(_job(), "someone", "elsewhere")
    for owner in ("pupil-1", "pupil-2", "pupil-3", "pupil-4", "someone"):
        t.cancel(owner)
    _wait(lambda: t.running() == 0)


def test_cancel_stops_a_running_run_and_removes_a_waiting_one(fake):
    t = Trainer(slots=1)
    running, waiting = t.submit(_job(), "a", "x"), t.submit(_job(), "b", "x")
    assert t.cancel("b") and waiting.state == "done" and waiting.outcome.cancelled
    assert t.cancel("a")
    heard = _follow(t, running)
    assert heard[-1].outcome.cancelled and not t.cancel("a")


def test_a_run_nobody_reads_stops_and_a_closed_follower_cancels_its_run(fake, monkeypatch):
    monkeypatch.setattr(trainer, "LEFT_SECONDS", 0.1)
    monkeypatch.setattr(FakeRun, "STEPS", 500)  # 10 s unless stopped
    t = Trainer(slots=1)
    gone = t.submit(_job(), "gone", "x")  # its page dropped: nobody reads it
    _wait(lambda: gone.state == "done", limit=5)
    assert gone.outcome.cancelled

    async def read_a_little(ticket):
        follower = t.follow(ticket)
        await follower.__anext__()
        await follower.aclose()  # Gradio closing the event
    closed = t.submit(_job(), "closed", "x")
    run_async(read_a_little(closed))
    _wait(lambda: closed.state == "done", limit=5)
    assert closed.outcome.cancelled


def test_a_place_whose_visitor_left_is_dropped_from_the_line(fake, monkeypatch):
    monkeypatch.setattr(trainer, "LEFT_SECONDS", 0.6)  # more than a follower's POLL_SECONDS
    monkeypatch.setattr(FakeRun, "STEPS", 100)
    t = Trainer(slots=1)
    first = t.submit(_job(), "first", "x")
    left = t.submit(_job(), "left", "x")
    threading.Thread(target=_follow, args=(t, first)).start()  # the first visitor stays
    time.sleep(0.9)
    last = t.submit(_job(), "last", "x")  # the line is looked at again: the one who left is gone
    assert left.state == "done" and left.outcome.cancelled
    assert t._estimate(last)[0] == 1
    _follow(t, last)


def _children() -> dict[int, str]:
    """This process's child processes and their states ('Z': <defunct>), but multiprocessing's resource
    tracker, which lives as long as its parent."""
    out = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and b"resource_tracker" not in command:
            out[int(stat.parent.name)] = fields[0]
    return out


@pytest.mark.skipif(not Path("/proc").exists(), reason="counts processes in /proc")
def test_real_runs_leave_no_process_behind_cancelled_or_not(tmp_path, data_dir):
    before = _children()  # (another test's process apart, waiting for work, may be one)
    t = Trainer(slots=1)
    cfg = TrainConfig(epochs=1, val_size=0, train_limit=500, batch_size=100)
    jobs = [Job("learn", ModelConfig(latent_dim=2, width=8), cfg, data_dir, tmp_path / name, 500)
            for name in ("whole", "cancelled")]
    whole, cancelled = t.submit(jobs[0], "a", "x"), t.submit(jobs[1], "b", "x")
    assert isinstance(_follow(t, whole, limit=120)[-1], Finished) and whole.outcome.epochs == 1
    heard = []

    async def cancel_once_running():
        async for news in t.follow(cancelled):
            heard.append(news)
            if isinstance(news, Running):
                t.cancel("b")
    run_async(asyncio.wait_for(cancel_once_running(), 120))
    assert heard[-1].outcome.cancelled or heard[-1].outcome.epochs == 1
    assert {pid: state for pid, state in _children().items() if pid not in before} == {} and t.processes == 0
