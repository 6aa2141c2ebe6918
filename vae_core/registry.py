"""The registry of models a program can show: shipped ones and trained ones, loaded on first use.

For each model it keeps, once computed, the test set's codes and the maps made from them (PCA now,
UMAP on request and cached on disk under the weights' digest), plus any other figure a caller
asks it to remember (`memo`). Shipped models may come with their UMAP of the test set precomputed
(SHIPPED_UMAPS beside them, made by scripts/ship_umaps.py), so it is there at once. Safe across
threads: each model has its own lock.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from . import checkpoints, data
from .export import export_apart
from .latent import encode_images, pca, umap_apart
from .losses import kl_per_dim
from .model import VAE

log = logging.getLogger(__name__)


SHIPPED_UMAPS = ".umap"  # folder beside the shipped models: umap-<weights digest>.npy, the test set's UMAP
OWNER = "owner.txt"  # in a trained model's folder: who trained it, so that it is still theirs after a restart


def file_digest(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def cached_umap(codes: np.ndarray, model_digest: str, cache_dir: str | os.PathLike) -> np.ndarray:
    """UMAP of the codes, stored on disk under the model's weights digest: reused until the model changes."""
    cache_dir = Path(cache_dir)
    codes_digest = hashlib.sha256(codes.tobytes()).hexdigest()[:12]
    path = cache_dir / f"umap-{model_digest}-{codes_digest}.npy"
    if path.exists():
        try:
            cached = np.load(path, allow_pickle=False)
            if cached.shape == (len(codes), 2):
                return cached
        except (OSError, ValueError):
            pass  # a damaged cache file is recomputed
    embedding = umap_apart(codes)  # in a process of its own: the caller's other threads keep answering
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp-{os.getpid()}-{threading.get_ident()}.npy")
    np.save(tmp, embedding, allow_pickle=False)
    os.replace(tmp, path)
    return embedding


def stored(path: Path, make: Callable[[], dict[str, np.ndarray]], fits: Callable[[dict], bool]) -> dict[str, np.ndarray]:
    """make()'s arrays, kept at `path` (npz, no pickles) and read back while they fit: a restart, or another
    program sharing the cache folder, does the work once. Written to a temporary file and renamed."""
    try:
        with np.load(path, allow_pickle=False) as f:
            kept = {k: f[k] for k in f.files}
        if fits(kept):
            return kept
    except (OSError, ValueError, KeyError):
        pass  # missing or damaged: made again
    made = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    with open(tmp, "wb") as f:
        np.savez(f, **made)
    os.replace(tmp, path)
    return made


def images_digest(images: torch.Tensor) -> str:
    return hashlib.sha256(images.contiguous().numpy().tobytes()).hexdigest()[:12]


@dataclass
class Embedding:
    """A model's codes for the test set, and the maps made from them."""

    mu: np.ndarray
    logvar: np.ndarray
    pca: np.ndarray
    pca_components: np.ndarray
    pca_mean: np.ndarray
    pca_ratio: np.ndarray
    kl_per_dim: np.ndarray
    umap: np.ndarray | None = None
    umap_status: str = "not started"


@dataclass
class Entry:
    name: str
    path: str
    config: dict
    metrics: dict
    shipped: bool
    owner: str | None = None  # who trained it, for a program that tells its users apart
    model: VAE | None = None
    digest: str | None = None
    embedding: Embedding | None = None
    memos: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Registry:
    """The models the app can show: shipped ones and those trained since. Safe across threads."""

    def __init__(self, shipped_dir: str | os.PathLike, user_dir: str | os.PathLike,
                 cache_dir: str | os.PathLike):
        self.shipped_dir, self.user_dir, self.cache_dir = Path(shipped_dir), Path(user_dir), Path(cache_dir)
        self._lock = threading.Lock()
        self._entries: dict[str, Entry] = {}
        self._extra: dict[str, Path] = {}  # models named on the command line: listed like shipped ones
        self._exports: dict[str, threading.Lock] = {}  # weights digest -> the lock of its ONNX export
        self._listed = False  # the folders are read on first use, not when the registry is made

    def refresh(self) -> None:
        """List the folders again: new ones join, removed ones leave, and one whose training moved on
        since it was listed is read afresh. A shipped model wins over a trained one of the same name."""
        self._listed = True
        found = {c["name"]: (c, False) for c in checkpoints.list_checkpoints(self.user_dir)}
        found.update({c["name"]: (c, True) for c in checkpoints.list_checkpoints(self.shipped_dir)})
        for name, path in list(self._extra.items()):
            try:
                found[name] = (checkpoints.describe(path, name), True)
            except checkpoints.CheckpointError as e:
                checkpoints.left_out(path, e)
        with self._lock:
            for name in [n for n in self._entries if n not in found]:
                del self._entries[name]
            for name, (c, shipped) in found.items():
                old = self._entries.get(name)
                if old is None or old.config.get("progress") != c["config"].get("progress"):
                    owner = old.owner if old is not None else None if shipped else _owner_of(c["path"])
                    self._entries[name] = Entry(name, c["path"], c["config"], c["metrics"], shipped, owner)

    def add_extra(self, name: str, path: str | os.PathLike) -> None:
        """List a checkpoint folder from elsewhere (a Hub download, a folder named on the command line)
        among the shipped models, under `name`; raises CheckpointError when it is damaged."""
        checkpoints.describe(path, name)
        self._extra[name] = Path(path)
        self.refresh()

    def _list_once(self) -> None:
        if not self._listed:
            self.refresh()

    def names(self) -> list[str]:
        self._list_once()
        with self._lock:
            return list(self._entries)

    def entry(self, name: str) -> Entry:
        self._list_once()
        with self._lock:
            if name not in self._entries:
                raise KeyError(f"no model called {name!r}")
            return self._entries[name]

    def model(self, name: str) -> VAE:
        entry = self.entry(name)
        with entry.lock:
            if entry.model is None:
                entry.model = checkpoints.load_model(entry.path)
                entry.digest = file_digest(Path(entry.path) / checkpoints.WEIGHTS)
            return entry.model

    def embedding(self, name: str, test_images: torch.Tensor) -> Embedding:
        """The test set's codes for a model, computed once (a second or two on a CPU)."""
        model = self.model(name)
        entry = self.entry(name)
        with entry.lock:
            if entry.embedding is None:
                mu, logvar = self._codes(entry, model, test_images)
                proj, comps, mean, ratio = pca(mu)
                kl = kl_per_dim(torch.from_numpy(mu), torch.from_numpy(logvar)).mean(0).numpy()
                entry.embedding = Embedding(mu, logvar, proj, comps, mean, ratio, kl)
                self._shipped_umap(entry)
            return entry.embedding

    def _codes(self, entry: Entry, model: VAE, images: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """The images' codes (mu, logvar); a shipped model's kept on disk (seconds of a core each, at every
        start). A trained model's are not: visitors make new ones all day, and the disk is not theirs."""
        def make():
            return dict(zip(("mu", "logvar"), encode_images(model, data.to_float(images))))
        if not entry.shipped:
            return tuple(make().values())
        shape = (len(images), model.latent_dim)
        codes = stored(self.cache_dir / f"codes-{entry.digest}-{images_digest(images)}.npz", make,
                       lambda kept: kept["mu"].shape == kept["logvar"].shape == shape and all(
                           np.isfinite(a).all() for a in kept.values()))
        return codes["mu"], codes["logvar"]

    def shipped_figures(self, name: str, key: str, images: torch.Tensor, compute: Callable[[VAE], dict]) -> dict:
        """memo of numbers (a dict of floats) computed from `images`; a shipped model's kept on disk too."""
        entry = self.entry(name)
        if not entry.shipped:
            return self.memo(name, key, compute)

        def from_disk(model: VAE) -> dict:  # once per model: the digests are not made on every call
            path = self.cache_dir / f"{key}-{entry.digest}-{images_digest(images)}.npz"
            kept = stored(path, lambda: {k: np.asarray(v) for k, v in compute(model).items()},
                          lambda kept: all(a.shape == () and np.isfinite(a) for a in kept.values()))
            return {k: a.item() for k, a in kept.items()}
        return self.memo(name, key, from_disk)

    def shipped_umap_path(self, name: str) -> Path:
        """Where a shipped model's precomputed UMAP of the test set lives (it may not exist)."""
        self.model(name)  # the digest
        return self.shipped_dir / SHIPPED_UMAPS / f"umap-{self.entry(name).digest}.npy"

    def _shipped_umap(self, entry: Entry) -> None:
        path = self.shipped_dir / SHIPPED_UMAPS / f"umap-{entry.digest}.npy"
        if not entry.shipped or not path.is_file():
            return
        try:
            umap = np.load(path, allow_pickle=False).astype(np.float32)
        except (OSError, ValueError):
            return  # a damaged file: computed on request instead
        if umap.shape == (len(entry.embedding.mu), 2) and np.isfinite(umap).all():
            entry.embedding.umap, entry.embedding.umap_status = umap, "ready"

    def memo(self, name: str, key: str, compute: Callable[[VAE], Any]) -> Any:
        """compute(model), worked out once per model and key and remembered while the registry lives."""
        model = self.model(name)
        entry = self.entry(name)
        with entry.lock:
            if key not in entry.memos:
                entry.memos[key] = compute(model)
            return entry.memos[key]

    def compute_umap(self, name: str, test_images: torch.Tensor) -> None:
        """Fill in the UMAP of the model's codes (cached on disk); slow the first time, so call it in the
        background. Its progress and any failure are in the embedding's umap_status."""
        emb = self.embedding(name, test_images)
        if emb.umap is None:
            emb.umap_status = "running"
            try:
                emb.umap = cached_umap(emb.mu, self.entry(name).digest, self.cache_dir)
                emb.umap_status = "ready"
            except Exception as e:  # surfaced in the status line, never a crash of the page
                emb.umap_status = f"failed: {type(e).__name__}: {e}"
                raise

    def by_digest(self, digest: str) -> str | None:
        """The name of a listed model whose weights have this digest (once it was loaded), else None."""
        self._list_once()
        with self._lock:
            return next((e.name for e in self._entries.values() if e.digest == digest), None)

    def decoder_onnx(self, name: str) -> Path:
        """The model's decoder as ONNX (vae_core.export), made once in a process of its own and kept on disk
        under its weights' digest; slow the first time (seconds), so ask ahead where a page will need it."""
        self.model(name)  # the digest
        entry = self.entry(name)
        path = self.cache_dir / "onnx" / f"decoder-{entry.digest}.onnx"
        with self._lock:
            lock = self._exports.setdefault(entry.digest, threading.Lock())
        with lock:  # one export per model, however many pages ask at once
            if not path.is_file():
                export_apart(entry.path, path)
        return path

    def add(self, path: str | os.PathLike, owner: str | None = None) -> None:
        """Register a checkpoint folder that training just wrote, under its folder's name; its owner is kept
        beside it (OWNER), for a registry of a later run of the program."""
        cfg, metrics = checkpoints.read_config(path), checkpoints.read_metrics(path)
        name = Path(path).name
        if owner is not None:
            tmp = Path(path) / f".{OWNER}.tmp"
            tmp.write_text(owner)
            os.replace(tmp, Path(path) / OWNER)
        with self._lock:
            self._entries[name] = Entry(name, str(path), cfg, metrics, shipped=False, owner=owner)

    def trained(self, owner: str | None = None) -> list[Entry]:
        """Models trained since shipping (of one owner, if given), oldest first."""
        self._list_once()
        with self._lock:
            entries = [e for e in self._entries.values() if not e.shipped and (owner is None or e.owner == owner)]
        return sorted(entries, key=lambda e: _mtime(e.path))

    def remove(self, name: str) -> None:
        """Delete a trained model's folder and forget it; shipped models are never removed."""
        entry = self.entry(name)
        if entry.shipped or Path(entry.path).parent.resolve() != self.user_dir.resolve():
            raise ValueError(f"{name} is a shipped model: it is never removed")
        with self._lock:
            self._entries.pop(name, None)
        shutil.rmtree(entry.path, ignore_errors=True)
        if entry.digest:  # what was kept of it (its UMAP, its decoder), which no other model will ask for
            for kept in [*self.cache_dir.glob(f"*{entry.digest}*"), *self.cache_dir.glob(f"onnx/*{entry.digest}*")]:
                kept.unlink(missing_ok=True)


def _owner_of(path: str) -> str | None:
    """Who trained the model in this folder, as add() recorded it (None: nobody said)."""
    try:
        return (Path(path) / OWNER).read_text().strip()[:64] or None
    except OSError:
        return None


def _mtime(path: str) -> float:
    try:
        return os.path.getmtime(path)
    except OSError:
        return 0.0
