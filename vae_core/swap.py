"""Folders written whole or not at all: a save writes a temporary sibling, then renames it over the folder,
the previous copy surviving under another name until the new one is in place; the next read or save
finishes a swap that was interrupted and removes what killed saves left (their names hold the writer's
pid, so a save still running keeps its folders).

    with saving(path):                       # this process's saves are never taken for leftovers
        tmp = ...; into_place(tmp, path)
    recover(path, is_whole)                  # on reading: a missing folder put back, leftovers removed
"""

from __future__ import annotations

import glob
import logging
import os
import shutil
import threading
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

SWAP_SECONDS = 2.0  # a leftover younger than this may be a save's under way, even with its writer unseen
STALE_SECONDS = 60.0  # a leftover untouched this long belongs to no save still running, whoever holds its pid
log = logging.getLogger(__name__)
_saving: Counter = Counter()  # the folders this process is saving now
_saving_lock = threading.Lock()


@contextmanager
def saving(path: Path):
    """Mark `path` as being saved by this process, so that no thread of it takes the save's folders for
    leftovers."""
    key = os.path.abspath(path)
    with _saving_lock:
        _saving[key] += 1
    try:
        yield
    finally:
        with _saving_lock:
            _saving[key] -= 1
            if not _saving[key]:
                del _saving[key]


def into_place(tmp: Path, path: Path) -> None:
    if not path.exists():
        os.rename(tmp, path)
        return
    old = path.with_name(f".{path.name}.old-{os.getpid()}-{time.time_ns()}")
    os.rename(path, old)  # the previous checkpoint survives under `old` until the new one is in place
    try:
        os.rename(tmp, path)
    except BaseException:
        os.rename(old, path)
        raise
    shutil.rmtree(old, ignore_errors=True)


def leftovers_of(path: Path) -> list[Path]:
    """Temporary and previous copies of a checkpoint folder that saves left beside it."""
    return [p for p in path.parent.glob(f".{glob.escape(path.name)}.*")
            if p.name[len(path.name) + 2:].startswith(("tmp-", "old-")) and p.is_dir()]


def _still_saving(leftover: Path, path: Path, age: float) -> bool:
    """Whether the save that made `leftover` may still be running: this process's while it saves `path`;
    another's while its pid (.name.tmp-PID-..., .name.old-PID-...) lives, or for SWAP_SECONDS once it is
    gone; any for STALE_SECONDS, as a pid may be reused and an older name holds none."""
    parts = leftover.name[len(path.name) + 2:].split("-")
    pid = int(parts[1]) if len(parts) > 2 and parts[1].isdigit() else None
    if pid == os.getpid():
        with _saving_lock:
            return os.path.abspath(path) in _saving
    return age < (SWAP_SECONDS if pid is not None and not _alive(pid) else STALE_SECONDS)


def _alive(pid: int) -> bool:
    if os.name != "posix":
        return True  # (signal 0 is no test for a process there)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        pass  # another user's process
    return True


def recover(path: str | os.PathLike, is_whole: Callable[[Path], bool]) -> None:
    """Finish what an interrupted save left: put the newest whole copy (by `is_whole`) in place if the folder
    is missing, and remove the leftovers of saves no longer running, never the only whole copy."""
    path = Path(path)
    if not path.parent.is_dir():
        return
    now = time.time()

    def age(p: Path) -> float:
        try:
            return now - p.stat().st_mtime
        except OSError:
            return 0.0
    leftovers = [p for p in leftovers_of(path) if not _still_saving(p, path, age(p))]
    if not leftovers:
        return
    if not path.exists():
        # The new copy (tmp) is preferred to the previous one (old), and a newer one to an older one.
        for candidate in sorted(leftovers, key=lambda p: (".tmp-" in p.name, age(p) * -1), reverse=True):
            if is_whole(candidate):
                try:
                    os.rename(candidate, path)
                except OSError:
                    break  # another process put one in place meanwhile
                log.warning("recovered %s from %s, left by an interrupted save", path, candidate.name)
                leftovers.remove(candidate)
                break
    keep_whole = not (path.exists() and is_whole(path))  # then a whole leftover is the only good copy
    for p in leftovers:
        if not (keep_whole and is_whole(p)):
            shutil.rmtree(p, ignore_errors=True)
