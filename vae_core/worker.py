"""Training in a separate, low-priority process, for programs that must stay responsive meanwhile.

A server that trains in one of its own threads shares the CPU and the interpreter with every request;
here the run gets its own process at a lower priority with one thread, so requests come first. The
parent reads progress from a queue and may cancel; a run whose parent died stops by itself.

    run = TrainingProcess(model_cfg, cfg, data_dir, out, init_from=..., run_info=...)
    for update in run.updates():   # train.Progress (its model left behind), and with watch=(uint8 images, n)
        ...                        # watch.Frame
    run.outcome                    # an Outcome: epochs, cancelled, seconds, device; or its error
    run.close()                    # always: ends the process if it still runs, and reaps it
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
import multiprocessing as mp
import os
import queue
from pathlib import Path

from .apart import NICENESS, name_process
from .config import TrainConfig
from .model import ModelConfig

POLL_SECONDS = 0.5
PROCESS_NAME = "vae-training"  # a training process's name in ps and top


@dataclass(frozen=True)
class Outcome:
    """How a run ended: the epochs it finished (each saved), whether it was cancelled, how long it took, on
    what; or, where it failed, why (`error`, its whole message)."""

    epochs: int = 0
    cancelled: bool = False
    seconds: float = 0.0
    device: str = "-"
    error: str | None = None


def _child(model_cfg, cfg, data_dir, out, init_from, run_info, updates, cancel, parent, niceness, threads, watch):
    import torch

    from . import data
    from .train import train
    from .watch import Recorder

    os.nice(niceness)
    name_process(PROCESS_NAME)
    torch.set_num_threads(threads)
    recorder = None if watch is None else Recorder(torch.from_numpy(watch[0]), watch[1])

    def report(p) -> None:
        if os.getppid() != parent:  # the program that started the run is gone: stop between steps
            cancel.set()
        frame = recorder(p) if recorder is not None else None
        if frame is not None:
            updates.put(frame)
        updates.put(dataclasses.replace(p, model=None))
    try:
        result = train(model_cfg, cfg, data.load_mnist(data_dir), out=out, callback=report, cancel=cancel,
                       init_from=init_from, run_info=run_info)
        updates.put(Outcome(len(result.history), result.cancelled, result.seconds, result.device))
    except Exception as e:  # a diverged run included: the parent reports it
        updates.put(Outcome(error=f"{type(e).__name__}: {e}"))


class TrainingProcess:
    """One training run in a child process (spawned: no state of the parent's threads is copied)."""

    def __init__(self, model_cfg: ModelConfig, cfg: TrainConfig, data_dir: str | os.PathLike, out: str | Path, *,
                 init_from: str | Path | None = None, run_info: dict | None = None, niceness: int = NICENESS,
                 threads: int = 1, watch: tuple | None = None):
        ctx = mp.get_context("spawn")
        self._updates, self._cancel = ctx.Queue(), ctx.Event()
        self.outcome: Outcome | None = None
        self._process = ctx.Process(
            target=_child, daemon=True, name="vae-training",
            args=(model_cfg, cfg, str(data_dir), str(out), None if init_from is None else str(init_from),
                  run_info, self._updates, self._cancel, os.getpid(), niceness, threads, watch))
        self._process.start()

    def cancel(self) -> None:
        self._cancel.set()

    def updates(self, cancel_when=lambda: False):
        """Progress dicts until the run ends; `cancel_when()` is asked between them."""
        while self.outcome is None:
            if cancel_when():
                self.cancel()
            try:
                update = self._updates.get(timeout=POLL_SECONDS)
            except queue.Empty:
                if not self._process.is_alive() and self._updates.empty():
                    self.outcome = Outcome(error=f"the training process ended unexpectedly (exit code "
                                                 f"{self._process.exitcode})")
                continue
            if isinstance(update, Outcome):
                self.outcome = update
            else:
                yield update
        self._process.join(timeout=30)

    def close(self, timeout: float = 30.0) -> None:
        """End the run, whatever it is doing, and reap its process (none is left behind, not even
        <defunct>): asked to stop between steps, then terminated, then killed."""
        self._cancel.set()
        self._process.join(timeout)
        for stop in (self._process.terminate, self._process.kill):
            if self._process.exitcode is None:
                stop()
                self._process.join(5)
        self._updates.cancel_join_thread()  # what it still had queued is dropped, not waited for
        self._updates.close()
