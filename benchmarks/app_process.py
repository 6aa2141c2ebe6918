"""The app in a child process, for the benchmarks that speak to it as visitors do, and what they measure
of it (its memory, its children, its disk)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MAIN = "mnist-z32"


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def children_of(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def du_mib(*folders: Path) -> float:
    return sum(f.stat().st_size for d in folders if d.exists() for f in d.rglob("*") if f.is_file()) / 2**20


def pct(samples: list[float]) -> tuple[float, float]:
    return (float(np.percentile(samples, 50)), float(np.percentile(samples, 95))) if samples else (float("nan"),) * 2


class App:
    """The app in a child process with its own runs, cache and Gradio temp folders."""

    def __init__(self, tmp: Path, port: int):
        self.tmp, self.port, self.url = tmp, port, f"http://127.0.0.1:{port}/"
        self.dirs = [tmp / "runs", tmp / "cache", tmp / "gradio"]
        # This process plays a Space's proxy for the phases that name other visitors' addresses
        # (X-Forwarded-For); with none named, every request is 127.0.0.1's, as a school's are one address.
        env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "VAE_RUNS_DIR": str(self.dirs[0]),
               "VAE_CACHE_DIR": str(self.dirs[1]), "GRADIO_TEMP_DIR": str(self.dirs[2]),
               "VAE_TRUSTED_PROXIES": "127.0.0.1"}
        self.log = open(tmp / f"app-{port}.log", "a")
        self.proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=ROOT, env=env,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        self._wait()

    def _wait(self, timeout: float = 120) -> None:
        from urllib.request import urlopen
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the app exited; see {self.log.name}")
            try:
                urlopen(self.url, timeout=2).read()
                return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError("the app did not start")

    def warmed_up(self, timeout: float = 600) -> float:
        """Wait until the app's start-up work is done (its log says so); returns the seconds waited."""
        from app import WARMED_UP
        t0 = time.time()
        while WARMED_UP not in Path(self.log.name).read_text():
            if time.time() - t0 > timeout or self.proc.poll() is not None:
                raise RuntimeError(f"the app's start-up work did not finish; see {self.log.name}")
            time.sleep(0.5)
        return time.time() - t0

    def client(self):
        from gradio_client import Client
        return Client(self.url, verbose=False)

    def stop(self, kill: bool = False) -> None:
        self.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        self.proc.wait(timeout=60)
