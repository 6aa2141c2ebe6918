"""Heavy work in a process of its own, at a lower priority, for a program that must keep answering.

In a server's thread, work that holds the interpreter lock for seconds (numba compiling UMAP, the ONNX
exporter tracing a model) makes every request wait its turn at the lock: a visitor's request once went
5 s unanswered while a UMAP ran. In a spawned process it holds its own lock, and the scheduler puts the
server's requests first.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import multiprocessing
import os
import threading
import time

NICENESS = 10  # how much lower than the program background work is scheduled, in a process or a thread


def run_apart(fn, *args):
    """fn(*args) in a spawned process (no copy of the parent's threads and locks) at a lower priority;
    fn must be importable by name. Returns its result, or raises its error."""
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context, initializer=_apart,
                                                initargs=(os.getpid(),)) as pool:
        return pool.submit(fn, *args).result()


def _apart(parent: int) -> None:
    """A process apart: scheduled after the rest, and gone with its parent (killed or not), which would
    otherwise leave it waiting for work forever."""
    lower_priority()
    name_process("vae-apart")

    def watch():
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)
    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


class Apart:
    """run_apart for repeated work whose imports cost more than the work itself (torch's exporter: seconds
    to import, about one to run): one process, started on first use and kept until it has been idle for
    `idle_seconds`. Jobs run one at a time, in the order they came."""

    def __init__(self, idle_seconds: float = 120.0):
        self.idle_seconds = idle_seconds
        self._lock = threading.Lock()
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        self._busy = 0
        self._timer: threading.Timer | None = None

    def run(self, fn, *args):
        with self._lock:
            if self._pool is None:
                context = multiprocessing.get_context("spawn")
                self._pool = concurrent.futures.ProcessPoolExecutor(1, mp_context=context, initializer=_apart,
                                                                    initargs=(os.getpid(),))
            pool, self._busy = self._pool, self._busy + 1
        try:
            return pool.submit(fn, *args).result()
        except concurrent.futures.process.BrokenProcessPool:
            with self._lock:  # the process died (killed, out of memory): the next job starts a new one
                if self._pool is pool:
                    self._pool = None
            raise
        finally:
            with self._lock:
                self._busy -= 1
                if self._timer is not None:
                    self._timer.cancel()
                self._timer = threading.Timer(self.idle_seconds, self.close_if_idle)
                self._timer.daemon = True
                self._timer.start()

    def close_if_idle(self) -> None:
        with self._lock:
            pool = self._pool if self._busy == 0 else None
            if pool is not None:
                self._pool = None
        if pool is not None:
            pool.shutdown(wait=True)


KEPT = Apart()  # the program's one kept process apart: decoder exports, class fits, rate and distortion


def with_model(fn, checkpoint, *args):
    """fn(model, *args) with a checkpoint folder's model, run in KEPT: for seconds of a core that a server's
    threads would otherwise wait for (fn importable by name; its arguments and result are pickled)."""
    return KEPT.run(_with_model, fn, str(checkpoint), *args)


def _with_model(fn, checkpoint: str, *args):
    import torch

    from .checkpoints import load_model
    torch.set_num_threads(1)  # one core: the program's own requests keep the other
    return fn(load_model(checkpoint, device="cpu"), *args)


def name_process(name: str) -> None:
    """This process as `name` in ps and top (its first 15 bytes; Linux only): an operator sees what each of
    the app's processes is, and a benchmark counts the trainers."""
    with contextlib.suppress(Exception):
        import ctypes
        ctypes.CDLL(None).prctl(15, name.encode()[:15] + b"\0", 0, 0, 0)  # PR_SET_NAME


def lower_priority(niceness: int = NICENESS) -> None:
    """This process, or on Linux this thread when called from one, scheduled after the rest."""
    with contextlib.suppress(AttributeError, OSError):  # no niceness here: the work still runs apart
        os.nice(niceness)
