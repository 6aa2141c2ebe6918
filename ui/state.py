"""What every visitor shares: the model registry and the data (loaded on first use).

Disk is bounded: models trained in the app are saved without optimizer state, at most
MODELS_PER_VISITOR per visitor (their oldest go first) and TRAINED_MODELS in all, where only the models of
visitors who have left make room; shipped ones never go.
"""

from __future__ import annotations

import os
import re
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import torch

from vae_core import data, hub
from vae_core.apart import NICENESS
from vae_core.model import RECIPES
from vae_core.registry import Registry

from .words import Kind

ROOT = Path(__file__).resolve().parents[1]
MAIN_MODEL = "mnist-z32"  # the best model, and the family of the beta view's models
FIRST_MODEL = "mnist-z2"  # the page opens on it: its map is its whole latent space, the best first picture
# Each dataset's shipped pair, by the same rule: its best model, and its 2-D one.
MAINS = {"mnist": MAIN_MODEL, "fashion-mnist": "fashion-z32"}
FIRSTS = {"mnist": FIRST_MODEL, "fashion-mnist": "fashion-z2"}
MODELS_PER_VISITOR = 3
TRAINED_MODELS = 12  # about 1.7 MB each without optimizer state: some 20 MB in all
KEPT_DAYS = 7  # a trained model whose visitor has not come back for this long is removed
SESSIONS_KNOWN = 10_000  # pages whose visitor the app remembers, the newest (a class's thirty, many times over)
VISITOR_ID = re.compile(r"[0-9a-f]{32}")
AWAY_SECONDS = 30 * 60  # a visitor not seen for this long has left: their models may make room for others'


class NoRoom(ValueError):
    """A visitor's run is refused: every trained model over the cap belongs to a visitor still here. Its
    message is the page's sentence."""


SPACE_STORAGE = Path("/data")  # a Hugging Face Space's persistent storage, when the Space has it


def storage_root(root: Path, storage: Path = SPACE_STORAGE) -> Path:
    """Where models trained in the app and caches are kept: on a Hugging Face Space (SPACE_ID is set)
    with persistent storage, a folder there, so that they outlive a restart; elsewhere the app's folder."""
    if os.environ.get("SPACE_ID") and storage.is_dir() and os.access(storage, os.W_OK):
        return storage / "vae-explorer"
    return root


class Context:
    """The model registry and the data (loaded once, on first use)."""

    def __init__(self, root: Path):
        # The shipped models, the ones trained in the app and the caches live where VAE_MODELS_DIR,
        # VAE_RUNS_DIR and VAE_CACHE_DIR say; by default the last two go to persistent storage on a Space
        # that has it, else beside the app.
        kept = storage_root(root)
        self.registry = Registry(os.environ.get("VAE_MODELS_DIR", root / "checkpoints"),
                                 os.environ.get("VAE_RUNS_DIR", kept / "runs"),
                                 os.environ.get("VAE_CACHE_DIR", kept / ".cache"))
        self.data_dir: str | None = None  # MNIST's; Fashion-MNIST's is $VAE_FASHION_DIR
        self._mnist: data.MNIST | None = None
        self._data_error: str | None = None
        self._tests: dict[str, TestSet | str] = {}  # dataset -> its test images, or why they are missing
        self._test_locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        self.preferred: str | None = None  # the model the page opens on, when one was named at start
        self.training_now: set[str] = set()  # names of the models being trained by this app now
        self.background = Background()
        self.clock = time.monotonic
        self._seen: OrderedDict[str, float] = OrderedDict()  # owner -> when last seen, the longest ago first
        self._room = threading.Lock()
        self._visitors: OrderedDict[str, str] = OrderedDict()  # a page's session -> its visitor, the newest last

    def recognise(self, session: str, visitor: str | None) -> str:
        """The visitor whose page opened as `session`: the one their browser remembers (a random id it keeps,
        so that a reload or a restart of the app finds their models theirs), else a new one."""
        if not (isinstance(visitor, str) and VISITOR_ID.fullmatch(visitor)):
            visitor = secrets.token_hex(16)
        with self._room:
            self._visitors[session] = visitor
            self._visitors.move_to_end(session)
            while len(self._visitors) > SESSIONS_KNOWN:
                self._visitors.popitem(last=False)
        self.seen(visitor)
        return visitor

    def owner_of(self, session: str | None) -> str:
        """Who a request's page belongs to: its visitor, once recognised; a script's session is its own."""
        with self._room:
            return self._visitors.get(session or "", session or "anonymous")

    def tidy(self) -> list[str]:
        """Remove the trained models whose visitors have not come back for KEPT_DAYS (by the folder's age;
        models of visitors here now, or training, stay). Returns their names."""
        old = time.time() - KEPT_DAYS * 86400
        gone = [e.name for e in self.registry.trained() if e.name not in self.training_now
                and not self.here(e.owner) and os.path.getmtime(e.path) < old]
        for name in gone:
            self.registry.remove(name)
        return gone

    def seen(self, owner: str | None) -> None:
        """`owner` is here (they opened the page, or train): their models stay while they are."""
        if not owner:
            return
        now = self.clock()
        with self._room:
            self._seen[owner] = now
            self._seen.move_to_end(owner)
            while next(iter(self._seen.values())) < now - AWAY_SECONDS:  # those gone are forgotten
                self._seen.popitem(last=False)

    def here(self, owner: str | None) -> bool:
        """Whether `owner` was seen in the last AWAY_SECONDS (a model of no one's, from before a restart: no)."""
        last = self._seen.get(owner) if owner else None
        return last is not None and self.clock() - last < AWAY_SECONDS

    def make_room(self, owner: str) -> None:
        """Before a visitor trains: remove their own oldest models past MODELS_PER_VISITOR, then, past
        TRAINED_MODELS in all, the oldest of visitors who have left (or of no one). Raises NoRoom, removing
        nothing, when that is not enough: nobody's run removes the model of a visitor still here."""
        self.seen(owner)
        with self._room:
            self.registry.refresh()
            idle = [e for e in self.registry.trained() if e.name not in self.training_now]  # oldest first
            mine = [e for e in idle if e.owner == owner]
            going = mine[:max(0, len(mine) - MODELS_PER_VISITOR + 1)]
            over = len(idle) - len(going) - TRAINED_MODELS + 1
            left = [e for e in idle if e.owner != owner and not self.here(e.owner)]
            if over > len(left):
                raise NoRoom(f"The app keeps at most {TRAINED_MODELS} models trained by visitors, and each of them "
                             "belongs to someone still using it: try again in a few minutes.")
            for e in going + left[:max(0, over)]:
                self.registry.remove(e.name)

    def mnist(self) -> data.MNIST | None:
        """The whole dataset, for training: from the data directory (or downloaded), else None."""
        with self._lock:
            if self._mnist is None and self._data_error is None:
                try:
                    self._mnist = data.load_mnist(self.data_dir)
                except data.DataError as e:
                    self._data_error = str(e)
            return self._mnist

    def kind(self, name: str | None) -> Kind:
        """What a model's images are (its dataset, class names, the word for one); MNIST's when the model
        is unknown, so that a page can always be worded."""
        try:
            cfg = self.registry.entry(name).config if name else {}
        except KeyError:
            cfg = {}
        return Kind.of(cfg.get("dataset", "mnist"), cfg.get("classes"))

    def test_set(self, name: str | None) -> TestSet | None:
        """The test images of a model's dataset, for exploring (loaded once per dataset), or None when
        they cannot be had; `missing(name)` then says why."""
        dataset = self.kind(name).dataset
        with self._lock:  # one lock per dataset: a slow download of one never holds up another's visitors
            lock = self._test_locks.setdefault(dataset, threading.Lock())
        with lock:
            if dataset not in self._tests:
                try:
                    images, labels = data.load_test_split(dataset, self.data_dir if dataset == "mnist" else None)
                    self._tests[dataset] = TestSet(images, labels)
                except (data.DataError, OSError) as e:
                    self._tests[dataset] = str(e)
            found = self._tests[dataset]
            return found if isinstance(found, TestSet) else None

    def missing(self, name: str | None) -> str:
        """Why a model's test images are not here, and what to do, in words for the page."""
        kind = self.kind(name)
        if kind.dataset == "mnist":
            return ("This view needs the MNIST test set, which was found neither in the data directory nor in "
                    "datasets/mnist-test. Start the app with --data-dir DIR or set VAE_DATA_DIR to a folder "
                    "holding the MNIST files. Generating and drawing work without it.")
        if kind.dataset in data.DATASETS:
            source = data.DATASETS[kind.dataset]
            return (f"This view needs the {source.title} test images, which are not on this machine and could "
                    f"not be downloaded. Set {source.env} to a folder holding its four files. Generating works "
                    "without them.")
        return (f"This view needs the model's own images, from the folder {kind.dataset}, which cannot be "
                "read here. Generating works without them.")

    def test_images(self, name: str | None) -> torch.Tensor | None:
        test = self.test_set(name)
        return None if test is None else test.images

    def test_labels(self, name: str | None) -> torch.Tensor | None:
        test = self.test_set(name)
        return None if test is None else test.labels

    def default_model(self) -> str | None:
        """The model a page opens on: the preferred, the 2-D or the main model, else the first shipped one;
        never a visitor's own (with the shipped models broken, every page opened on a visitor's model)."""
        names = self.registry.names()
        shipped = [n for n in names if self.registry.entry(n).shipped]
        return next((n for n in (self.preferred, FIRST_MODEL, MAIN_MODEL) if n in names),
                    shipped[0] if shipped else None)

    def main_of(self, name: str | None) -> str | None:
        """The best shipped model of the dataset `name` shows (mnist-z32 for MNIST), when it is here."""
        main = MAINS.get(self.kind(name).dataset)
        return main if main in self.registry.names() else None

    def first_of(self, name: str | None) -> str | None:
        """The shipped 2-D model of the dataset `name` shows (mnist-z2 for MNIST), when it is here."""
        first = FIRSTS.get(self.kind(name).dataset)
        return first if first in self.registry.names() else None

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
        """Shipped models are everyone's; a model trained in the app is its trainer's alone (one whose trainer
        is not known, nobody's, until KEPT_DAYS remove it)."""
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
            kind = "" if m["arch"] == "conv" else f", {RECIPES[m['arch']]}"
            mine = "" if e.shipped else f", {self.completion(n)}"
            data_set = "" if self.kind(n).digits else f"{self.kind(n).title}, "
            out.append((f"{n} ({data_set}{m['latent_dim']} numbers, β {e.config.get('beta', 1):g}{kind}{mine})", n))
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


@dataclass(frozen=True)
class TestSet:
    """A dataset's test images, which the views explore."""

    images: torch.Tensor  # uint8 (N, 28, 28)
    labels: torch.Tensor  # int64 (N,)


class Background:
    """Heavy work (warm-up, UMAP) one job at a time, in a thread of low priority, so visitors' requests
    come first. On Linux a thread has its own niceness; elsewhere the job simply runs."""

    def __init__(self):
        self._lock = threading.Lock()

    def start(self, fn, *args, delay: float = 0.0) -> threading.Thread:
        """fn(*args) in the background, after `delay` seconds."""
        def job():
            time.sleep(delay)
            try:
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICENESS)
            except (AttributeError, OSError):
                pass
            with self._lock:
                fn(*args)
        thread = threading.Thread(target=job, daemon=True, name=f"background-{getattr(fn, '__name__', 'job')}")
        thread.start()
        return thread


def trained_model_name(prefix: str) -> str:
    """A name for a model a visitor trains: readable, with a random part, so that no one else can guess it
    and reach that visitor's model through the API (the menus list each visitor's own models only)."""
    return f"{prefix}-{time.strftime('%H%M%S')}-{secrets.token_hex(4)}"


CTX = Context(ROOT)
