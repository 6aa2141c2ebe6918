"""Training runs in the app, for every visitor: the β view's fine-tuning and Watch it learn both ask here.

A few runs at a time (as the machine's cores allow, each in its own low-priority process), the rest in
one line, first come first served, each visitor holding one place at most. A run holds its slot from
the start to the end of its process, which is always reaped. A run whose visitor has gone stops: their
page closed (the view calls `cancel`), or nobody has read its progress for LEFT_SECONDS (Gradio stops
reading a run when its connection drops). Cancel from the visitor's own session always stops theirs.

    ticket = TRAINER.submit(job, owner, address)      # or raises Refused, with the sentence for the page
    for news in TRAINER.follow(ticket): ...            # Waiting, Running (its new updates), Finished
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from vae_core.config import TrainConfig
from vae_core.model import ModelConfig
from vae_core.worker import Outcome, TrainingProcess

LEFT_SECONDS = 6.0  # a run nobody has read for this long has lost its visitor: it stops
HEARTBEAT_SECONDS = 1.0  # a follower hears from its run at least this often, news or not
POLL_SECONDS = 0.25  # how often a follower looks for news
LINE_SIZE = 64  # runs waiting, all visitors together: a class of thirty twice over
PER_ADDRESS = 40  # places in line one network may hold: a school's class, not a script's hundreds
STARTUP_SECONDS = 6.0  # a run's process starting and reading its data, before its first step
# Seconds per training image per pass, by kind of run, until runs here have measured their own.
SECONDS_PER_IMAGE = {"learn": 1 / 1200, "beta": 1 / 250}


def default_slots() -> int:
    """Runs at once: one core each, one core kept for the visitors' requests; 4 at most (a run's
    process takes about 1 GB)."""
    if os.environ.get("VAE_TRAINING_SLOTS", "").isdigit():
        return max(1, int(os.environ["VAE_TRAINING_SLOTS"]))
    return max(1, min(4, (os.cpu_count() or 2) - 1))


class Refused(Exception):
    """A run the trainer will not take; its message is the page's sentence."""


@dataclass(frozen=True)
class Job:
    """One run: what to train and what to tell the page. `started` runs as the run's process starts (in the
    trainer's thread), `finished(outcome)` once it has ended, whether anyone still follows it."""

    kind: str  # "learn" or "beta": sets the estimate
    model_cfg: ModelConfig
    cfg: TrainConfig
    data_dir: str
    out: Path
    images: int  # training images a pass
    init_from: Path | None = None
    run_info: dict | None = None
    watch: tuple | None = None  # (uint8 images, frames): record the 2-D map as it learns
    started: Callable[[], None] = lambda: None
    finished: Callable[[Outcome], None] = lambda outcome: None


@dataclass(frozen=True)
class Waiting:
    position: int  # 1: next to start
    seconds: float  # about how long until it starts


@dataclass(frozen=True)
class Running:
    updates: list  # the run's progress dicts since the follower's last news (vae_core.worker)


@dataclass(frozen=True)
class Finished:
    outcome: Outcome


@dataclass(eq=False)
class Ticket:
    job: Job
    owner: str
    address: str
    state: str = "waiting"  # then "running", then "done"
    updates: list = field(default_factory=list)
    outcome: Outcome | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)
    seen: float = field(default_factory=time.monotonic)  # when its follower last read it
    started_at: float | None = None

    @property
    def work(self) -> float:
        return self.job.images * self.job.cfg.epochs

    def left(self, now: float) -> bool:
        return now - self.seen > LEFT_SECONDS


class Trainer:
    def __init__(self, slots: int | None = None):
        self.slots = slots or default_slots()
        self._cv = threading.Condition()
        self._running: list[Ticket] = []
        self._line: list[Ticket] = []
        self._rates = dict(SECONDS_PER_IMAGE)
        self.processes = 0  # trainer processes alive now (never more than slots)

    def submit(self, job: Job, owner: str, address: str) -> Ticket:
        with self._cv:
            self._drop_left()
            if any(t.owner == owner for t in self._running + self._line):
                raise Refused("You have a run already: wait for it to end, or press Cancel.")
            if len(self._line) >= LINE_SIZE or sum(t.address == address for t in self._line) >= PER_ADDRESS:
                raise Refused("The trainer's line is full just now. Try again in a few minutes.")
            ticket = Ticket(job, owner, address)
            self._line.append(ticket)
            self._start_next()
            return ticket

    async def follow(self, ticket: Ticket):
        """What happens to the run, as it happens: Waiting while in line, Running (with the updates since
        the last) at least every HEARTBEAT_SECONDS, then Finished. Closing this generator, or no longer
        reading it, cancels the run. Asynchronous, so that a class's thirty followers hold no threads."""
        read, last = 0, 0.0
        try:
            while True:
                with self._cv:
                    ticket.seen = now = time.monotonic()
                    state, updates = ticket.state, ticket.updates[read:]
                    read += len(updates)
                    news = Waiting(*self._estimate(ticket)) if state == "waiting" else Running(updates)
                if updates or now - last >= HEARTBEAT_SECONDS:
                    last = now
                    yield news
                if state == "done":  # the last updates came first, above
                    yield Finished(ticket.outcome)
                    return
                await asyncio.sleep(POLL_SECONDS)
        finally:
            if ticket.state != "done":
                self.cancel_ticket(ticket)

    def cancel(self, owner: str) -> bool:
        """Stop the owner's run, waiting or running; whether there was one."""
        with self._cv:
            mine = [t for t in self._running + self._line if t.owner == owner]
        for ticket in mine:
            self.cancel_ticket(ticket)
        return bool(mine)

    def cancel_ticket(self, ticket: Ticket) -> None:
        with self._cv:
            ticket.cancelled.set()
            if ticket in self._line:  # it never started: it ends here
                self._line.remove(ticket)
                ticket.state, ticket.outcome = "done", Outcome(cancelled=True)
            self._cv.notify_all()

    def waiting(self) -> int:
        with self._cv:
            return len(self._line)

    def running(self) -> int:
        with self._cv:
            return len(self._running)

    def _estimate(self, ticket: Ticket) -> tuple[int, float]:
        """Its place in line, and when a slot comes free for it if every run takes its estimate."""
        now = time.monotonic()
        free = sorted(max(0.0, (t.started_at or now) + self._seconds(t) - now) for t in self._running)
        free += [0.0] * (self.slots - len(free))
        position = self._line.index(ticket) + 1
        for ahead in self._line[:position - 1]:
            free.sort()
            free[0] += self._seconds(ahead)
        return position, min(free)

    def _seconds(self, ticket: Ticket) -> float:
        return self.seconds_for(ticket.job.kind, ticket.work)

    def seconds_for(self, kind: str, work: float) -> float:
        """About how long a run of `work` training images (all its passes) takes, at the pace measured here."""
        return STARTUP_SECONDS + work * self._rates.get(kind, max(self._rates.values()))

    def _drop_left(self) -> None:
        """Places in line whose visitors have gone (nobody reads them) end without running."""
        now = time.monotonic()
        for ticket in [t for t in self._line if t.left(now)]:
            self._line.remove(ticket)
            ticket.cancelled.set()
            ticket.state, ticket.outcome = "done", Outcome(cancelled=True)

    def _start_next(self) -> None:
        """Called with the lock held: start waiting runs while slots are free."""
        self._drop_left()
        while self._line and len(self._running) < self.slots:
            ticket = self._line.pop(0)
            ticket.state, ticket.started_at = "running", time.monotonic()
            self._running.append(ticket)
            self.processes += 1
            threading.Thread(target=self._run, args=(ticket,), daemon=True, name="training-run").start()
        self._cv.notify_all()

    def _run(self, ticket: Ticket) -> None:
        """The run's own thread: its process from start to end, its updates kept for its follower."""
        job, run, outcome = ticket.job, None, None
        try:
            job.started()
            run = TrainingProcess(job.model_cfg, job.cfg, job.data_dir, job.out, init_from=job.init_from,
                                  run_info=job.run_info, watch=job.watch)
            stop = lambda: ticket.cancelled.is_set() or ticket.left(time.monotonic())  # noqa: E731
            for update in run.updates(cancel_when=stop):
                with self._cv:
                    ticket.updates.append(update)
                    self._cv.notify_all()
            outcome = run.outcome or Outcome(error="the run ended without a word")
        except Refused as e:  # its start was refused (no room for its model): the sentence as it is
            outcome = Outcome(error=str(e))
        except Exception as e:  # the page says so; the process, if any, is reaped below
            outcome = Outcome(error=f"{type(e).__name__}: {e}")
        finally:
            if run is not None:
                run.close()
            with self._cv:
                self.processes -= 1
        try:
            job.finished(outcome)
        finally:
            with self._cv:
                self._learn_rate(ticket, outcome)
                ticket.state, ticket.outcome = "done", outcome
                self._running.remove(ticket)
                self._start_next()

    def _learn_rate(self, ticket: Ticket, outcome: Outcome) -> None:
        """A whole run's pace updates the estimate for its kind (a moving average)."""
        if outcome.error is None and not outcome.cancelled and outcome.seconds:
            measured = outcome.seconds / max(1.0, ticket.work)
            self._rates[ticket.job.kind] = 0.5 * self._rates.get(ticket.job.kind, measured) + 0.5 * measured


TRAINER = Trainer()
