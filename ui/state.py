"""What every visitor shares: the model registry, the data (loaded on first use) and the training slot.

Disk is bounded: models trained in the app are saved without optimizer state, at most
MODELS_PER_VISITOR per visitor and TRAINED_MODELS in all; the oldest go first, shipped ones never.
"""

from __future__ import annotations

import math
import os
import threading
from pathlib import Path

import torch

from vae_core import data, hub
from vae_core.registry import Registry

ROOT = Path(__file__).resolve().parents[1]
MAIN_MODEL = "mnist-z32"  # the best model, and the family of the beta view's models
FIRST_MODEL = "mnist-z2"  # the page opens on it: its map is its whole latent space, the best first picture
MODELS_PER_VISITOR = 3
TRAINED_MODELS = 12  # about 1.7 MB each without optimizer state: some 20 MB in all


SPACE_STORAGE = Path("/data")  # a Hugging Face Space's persistent storage, when the Space has it


def storage_root(root: Path, storage: Path = SPACE_STORAGE) -> Path:
    """Where models trained in the app and caches are kept: on a Hugging Face Space (SPACE_ID is set)
    with persistent storage, a folder there, so that they outlive a restart; elsewhere the app's folder."""
    if os.environ.get("SPACE_ID") and storage.is_dir() and os.access(storage, os.W_OK):
        return storage / "vae-explorer"
    return root


class Context:
    """The model registry, the data (loaded once, on first use) and the one training slot."""

    def __init__(self, root: Path):
        # The shipped models, the ones trained in the app and the caches live where VAE_MODELS_DIR,
        # VAE_RUNS_DIR and VAE_CACHE_DIR say; by default the last two go to persistent storage on a Space
        # that has it, else beside the app.
        kept = storage_root(root)
        self.registry = Registry(os.environ.get("VAE_MODELS_DIR", root / "checkpoints"),
                                 os.environ.get("VAE_RUNS_DIR", kept / "runs"),
                                 os.environ.get("VAE_CACHE_DIR", kept / ".cache"))
        self.data_dir: str | None = None
        self._mnist: data.MNIST | None = None
        self._data_error: str | None = None
        self._test: tuple[torch.Tensor, torch.Tensor] | None = None
        self._test_error: str | None = None
        self._lock = threading.Lock()
        self.slot = TrainingSlot(max_waiting=2)
        self.preferred: str | None = None  # the model the page opens on, when one was named at start
        self.cancels: dict[str, threading.Event] = {}
        self.training_now: set[str] = set()  # names of the models being trained by this app now
        self.background = Background()

    def make_room(self, owner: str) -> None:
        """Before a visitor trains: remove their oldest models, then anyone's, to stay under the caps."""
        self.registry.refresh()
        for cap, trained in ((MODELS_PER_VISITOR, lambda: self.registry.trained(owner)),
                             (TRAINED_MODELS, self.registry.trained)):
            while len(models := [e for e in trained() if e.name not in self.training_now]) >= cap:
                self.registry.remove(models[0].name)

    def mnist(self) -> data.MNIST | None:
        """The whole dataset, for training: from the data directory (or downloaded), else None."""
        with self._lock:
            if self._mnist is None and self._data_error is None:
                try:
                    self._mnist = data.load_mnist(self.data_dir)
                except data.DataError as e:
                    self._data_error = str(e)
            return self._mnist

    def _test_set(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """The test digits, for exploring: the data directory's, else the copy shipped with the project."""
        with self._lock:
            if self._test is None and self._test_error is None:
                try:
                    self._test = data.load_test_set(self.data_dir)
                except data.DataError as e:
                    self._test_error = str(e)
            return self._test

    def test_images(self) -> torch.Tensor | None:
        test = self._test_set()
        return None if test is None else test[0]

    def test_labels(self) -> torch.Tensor | None:
        test = self._test_set()
        return None if test is None else test[1]

    def default_model(self) -> str | None:
        names = self.registry.names()
        return next((n for n in (self.preferred, FIRST_MODEL, MAIN_MODEL) if n in names), names[0] if names else None)

    def open_on(self, model: str) -> str:
        """Start the page on `model`: a checkpoint folder, or a Hugging Face Hub repo id (owner/name,
        fetched into the Hub's cache); it joins everyone's model list. Returns its name in the list."""
        if hub.is_repo_id(model):
            name, path = model, hub.download(model)
        else:
            name, path = Path(model).name, Path(model)
        self.registry.add_extra(name, path)
        self.preferred = name
        return name

    def visible(self, name: str, owner: str | None) -> bool:
        """Shipped models are everyone's; a model trained in the app is its trainer's alone."""
        e = self.registry.entry(name)
        return e.shipped or (owner is not None and e.owner == owner)

    def model_choices(self, owner: str | None = None) -> list[tuple[str, str]]:
        """(label, name) pairs for a visitor's model menus: what each model is, at a glance."""
        out = []
        for n in self.registry.names():
            if not self.visible(n, owner):
                continue
            e = self.registry.entry(n)
            m = e.config["model"]
            kind = {"conv": "", "seed-conv": ", tutorial recipe", "mlp": ", textbook MLP"}[m["arch"]]
            mine = "" if e.shipped else f", {self.completion(n)}"
            out.append((f"{n} (latent {m['latent_dim']}, β {e.config.get('beta', 1):g}{kind}{mine})", n))
        return out

    def completion(self, name: str) -> str:
        """How finished a trained model is, in words: trained here, still training, or stopped early."""
        progress = self.registry.entry(name).config.get("progress") or {}
        done, total = progress.get("epoch", 0), progress.get("epochs", 0)
        if name in self.training_now:
            return f"still training: {done} of {total} epochs so far"
        if done < total:
            return f"unfinished: stopped after {done} of {total} epochs"
        return "trained here"

    def ladder(self, owner: str | None = None) -> list[dict]:
        """Models of the main model's family (same architecture, other betas) that `owner` may see, by beta."""
        main = self.registry.entry(MAIN_MODEL) if MAIN_MODEL in self.registry.names() else None
        if main is None:
            return []
        family = main.config["model"]
        out = []
        for n in self.registry.names():
            e = self.registry.entry(n)
            if e.config["model"] == family and self.visible(n, owner):
                out.append({"name": n, "beta": float(e.config.get("beta", 1.0)), "shipped": e.shipped})
        return sorted(out, key=lambda d: (d["beta"], not d["shipped"]))

    def nearest_ladder(self, beta: float, owner: str | None = None) -> dict:
        """The ladder model whose beta is nearest on a log scale, a shipped one first; the ladder is not empty."""
        return min(self.ladder(owner), key=lambda d: (abs(math.log(d["beta"]) - math.log(beta)), not d["shipped"]))


class Background:
    """Heavy work (warm-up, UMAP) one job at a time, in a thread of low priority, so visitors' requests
    come first. On Linux a thread has its own niceness; elsewhere the job simply runs."""

    NICENESS = 10

    def __init__(self):
        self._lock = threading.Lock()

    def start(self, fn, *args) -> threading.Thread:
        def job():
            try:
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self.NICENESS)
            except (AttributeError, OSError):
                pass
            with self._lock:
                fn(*args)
        thread = threading.Thread(target=job, daemon=True, name=f"background-{getattr(fn, '__name__', 'job')}")
        thread.start()
        return thread


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
