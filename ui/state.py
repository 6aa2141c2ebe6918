"""What every visitor shares: the model registry, the data (loaded on first use) and the training slot."""

from __future__ import annotations

import math
import os
import threading
from pathlib import Path

import torch

from vae_core import data
from vae_core.registry import Registry

ROOT = Path(__file__).resolve().parents[1]
MAIN_MODEL = "mnist-z32"


class Context:
    """The model registry, the data (loaded once, on first use) and the one training slot."""

    def __init__(self, root: Path):
        # Models trained in the app and the UMAP cache go where VAE_RUNS_DIR / VAE_CACHE_DIR say.
        self.registry = Registry(root / "checkpoints", os.environ.get("VAE_RUNS_DIR", root / "runs"),
                                 os.environ.get("VAE_CACHE_DIR", root / ".cache"))
        self.data_dir: str | None = None
        self._mnist: data.MNIST | None = None
        self._data_error: str | None = None
        self._lock = threading.Lock()
        self.slot = TrainingSlot(max_waiting=2)
        self.cancels: dict[str, threading.Event] = {}

    def mnist(self) -> data.MNIST | None:
        with self._lock:
            if self._mnist is None and self._data_error is None:
                try:
                    self._mnist = data.load_mnist(self.data_dir)
                except data.DataError as e:
                    self._data_error = str(e)
            return self._mnist

    def test_images(self) -> torch.Tensor | None:
        m = self.mnist()
        return None if m is None else m.test_images

    def default_model(self) -> str | None:
        names = self.registry.names()
        return MAIN_MODEL if MAIN_MODEL in names else (names[0] if names else None)

    def model_choices(self) -> list[tuple[str, str]]:
        """(label, name) pairs for the model menus: what each model is, at a glance."""
        out = []
        for n in self.registry.names():
            e = self.registry.entry(n)
            m = e.config["model"]
            kind = {"conv": "", "seed-conv": ", tutorial recipe", "mlp": ", textbook MLP"}[m["arch"]]
            mine = ", trained here" if not e.shipped else ""
            out.append((f"{n} (latent {m['latent_dim']}, β {e.config.get('beta', 1):g}{kind}{mine})", n))
        return out

    def ladder(self, name: str | None = None) -> list[dict]:
        """Models of the main model's family (same architecture, other betas), sorted by beta."""
        main = self.registry.entry(MAIN_MODEL) if MAIN_MODEL in self.registry.names() else None
        if main is None:
            return []
        family = main.config["model"]
        out = []
        for n in self.registry.names():
            e = self.registry.entry(n)
            if e.config["model"] == family:
                out.append({"name": n, "beta": float(e.config.get("beta", 1.0)), "shipped": e.shipped})
        return sorted(out, key=lambda d: (d["beta"], not d["shipped"]))

    def nearest_ladder(self, beta: float) -> dict:
        """The ladder model whose beta is nearest on a log scale, a shipped one first; the ladder is not empty."""
        return min(self.ladder(), key=lambda d: (abs(math.log(d["beta"]) - math.log(beta)), not d["shipped"]))


class TrainingSlot:
    """One training run at a time; up to `max_waiting` visitors wait in line, the rest are told it is busy."""

    def __init__(self, max_waiting: int):
        self.max_waiting = max_waiting
        self._cv = threading.Condition()
        self._busy = False
        self._waiting = 0

    def try_enter(self) -> int | None:
        """Queue position (0 = running now), or None if the line is full."""
        with self._cv:
            if not self._busy:
                self._busy = True
                return 0
            if self._waiting >= self.max_waiting:
                return None
            self._waiting += 1
            return self._waiting

    def wait_turn(self, cancel: threading.Event, timeout: float = 1.0) -> bool:
        with self._cv:
            while self._busy:
                if cancel.is_set():
                    self._waiting -= 1
                    return False
                self._cv.wait(timeout)
            self._busy = True
            self._waiting -= 1
            return True

    def leave(self) -> None:
        with self._cv:
            self._busy = False
            self._cv.notify_all()


CTX = Context(ROOT)
