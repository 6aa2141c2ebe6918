"""Looking inside a trained VAE: latent maps, interpolation, sampling, grids and user images.

Everything here works on a loaded model and plain tensors or arrays; the app calls it and holds no ML
logic of its own. The model registry keeps each model's test-set codes (and their PCA and UMAP maps)
so that switching models is instant after the first visit, with UMAP cached on disk per model.
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from . import checkpoints, data
from .losses import kl_per_dim
from .model import VAE

MAX_UPLOAD_PIXELS = 4096 * 4096  # larger images are refused: decoding them is a denial of service
MAX_UPLOAD_SIDE = 4096


# ----------------------------------------------------------------------------- images


def to_uint8(images: torch.Tensor | np.ndarray) -> np.ndarray:
    """(N, 1, H, W) or (H, W) in [0, 1] -> uint8 array of the same layout, without the channel axis."""
    a = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    if a.ndim == 4:
        a = a[:, 0]
    return (np.clip(a, 0, 1) * 255 + 0.5).astype(np.uint8)


def upscale(image: np.ndarray, factor: int = 8) -> np.ndarray:
    """Nearest-neighbour enlargement, so a 28x28 digit shows its pixels instead of a blur."""
    return np.kron(image, np.ones((factor, factor), dtype=image.dtype))


def grid(images: torch.Tensor | np.ndarray, ncols: int, pad: int = 2, factor: int = 4) -> np.ndarray:
    """A uint8 mosaic of (N, 1, 28, 28) images in [0, 1], on a mid-grey gutter."""
    tiles = to_uint8(images)
    n, h, w = tiles.shape
    nrows = -(-n // ncols)
    out = np.full((nrows * (h + pad) + pad, ncols * (w + pad) + pad), 96, dtype=np.uint8)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, ncols)
        out[pad + r * (h + pad): pad + r * (h + pad) + h, pad + c * (w + pad): pad + c * (w + pad) + w] = tile
    return upscale(out, factor)


def png_bytes(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


def gif_bytes(frames: list[np.ndarray], ms_per_frame: int = 120) -> bytes:
    """An animated GIF that plays the frames forward then back (a ping-pong loop)."""
    seq = frames + frames[-2:0:-1]
    buf = io.BytesIO()
    pil = [Image.fromarray(f) for f in seq]
    pil[0].save(buf, format="GIF", save_all=True, append_images=pil[1:], duration=ms_per_frame, loop=0)
    return buf.getvalue()


def prepare_user_image(image: np.ndarray | Image.Image | None) -> np.ndarray:
    """Any drawing or photo of a digit -> (28, 28) float in [0, 1], centred and scaled as MNIST is.

    MNIST digits are white on black, fit a 20x20 box (aspect kept) and have their centre of mass at
    the centre of the 28x28 field (LeCun et al.). Transparency is composited on white; a light
    background is inverted. Raises ValueError with a message a visitor can act on.
    """
    if image is None:
        raise ValueError("No image: draw a digit, upload a picture or pick one from the gallery.")
    pil = image if isinstance(image, Image.Image) else _array_to_pil(np.asarray(image))
    if pil.width * pil.height > MAX_UPLOAD_PIXELS or max(pil.size) > MAX_UPLOAD_SIDE:
        raise ValueError(f"That image is {pil.width}x{pil.height} pixels; the limit is {MAX_UPLOAD_SIDE} "
                         "pixels a side. A photo of one digit at any phone resolution works.")
    if pil.mode in ("RGBA", "LA", "PA") or (pil.mode == "P" and "transparency" in pil.info):
        rgba = pil.convert("RGBA")
        alpha = np.asarray(rgba)[..., 3]
        if alpha.max() == 0:
            raise ValueError("The image is empty: draw a digit first.")
        if alpha.min() < 255 and np.asarray(rgba.convert("L"))[alpha > 0].mean() < 128:
            # dark strokes on a transparent canvas (a sketchpad): composite on white
            background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            pil = Image.alpha_composite(background, rgba)
        else:
            pil = Image.fromarray(alpha) if alpha.min() < 255 else rgba
    grey = np.asarray(pil.convert("L"), dtype=np.float32) / 255
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    if np.median(border) > 0.5:  # dark digit on light paper -> white on black, as MNIST
        grey = 1 - grey
    grey = np.clip((grey - np.percentile(grey, 5)) / max(1e-6, grey.max() - np.percentile(grey, 5)), 0, 1)
    mask = grey > 0.2
    if mask.sum() < 4:
        raise ValueError("No digit found in the image: the drawing is empty or too faint.")
    rows, cols = np.where(mask)
    crop = grey[rows.min(): rows.max() + 1, cols.min(): cols.max() + 1]
    h, w = crop.shape
    scale = 20 / max(h, w)
    small = Image.fromarray((crop * 255).astype(np.uint8)).resize(
        (max(1, round(w * scale)), max(1, round(h * scale))), Image.LANCZOS)
    digit = np.asarray(small, dtype=np.float32) / 255
    canvas = np.zeros((28, 28), dtype=np.float32)
    top, left = (28 - digit.shape[0]) // 2, (28 - digit.shape[1]) // 2
    canvas[top: top + digit.shape[0], left: left + digit.shape[1]] = digit
    return _centre_of_mass(canvas)


def _array_to_pil(a: np.ndarray) -> Image.Image:
    if a.dtype != np.uint8:
        a = np.clip(a * 255 if a.max() <= 1.0 else a, 0, 255).astype(np.uint8)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)):
        raise ValueError(f"Not an image: an array of shape {a.shape}.")
    return Image.fromarray(a)


def _centre_of_mass(canvas: np.ndarray) -> np.ndarray:
    total = canvas.sum()
    ys, xs = np.indices(canvas.shape)
    dy = int(round(13.5 - (ys * canvas).sum() / total))
    dx = int(round(13.5 - (xs * canvas).sum() / total))
    return np.roll(np.roll(canvas, dy, axis=0), dx, axis=1)


def load_image_file(path: str | os.PathLike) -> Image.Image:
    """Open an uploaded file as an image, refusing what is not one (it is never run or unpickled)."""
    try:
        size = os.path.getsize(path)
        if size > 20 * 1024 * 1024:
            raise ValueError(f"The file is {size / 1e6:.0f} MB; images up to 20 MB are accepted.")
        Image.MAX_IMAGE_PIXELS = MAX_UPLOAD_PIXELS
        with Image.open(path) as im:
            im.load()
            if getattr(im, "n_frames", 1) > 1:
                im.seek(0)
            return ImageOps.exif_transpose(im).copy()
    except ValueError:
        raise
    except (OSError, Image.DecompressionBombError, SyntaxError) as e:
        raise ValueError(f"That file is not an image this app can read ({type(e).__name__}). "
                         "Upload a PNG, JPEG, GIF, BMP or WebP of one digit.") from None


# ----------------------------------------------------------------------------- latent space


def slerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation (Shoemake 1985); falls back to linear when the vectors are parallel."""
    n0, n1 = z0.norm(), z1.norm()
    cos = torch.clamp((z0 @ z1) / (n0 * n1 + 1e-12), -1, 1)
    omega = torch.arccos(cos)
    if omega.abs() < 1e-4:
        return torch.lerp(z0.expand(len(t), -1), z1.expand(len(t), -1), t[:, None])
    s = torch.sin(omega)
    # The direction moves along the great circle, the norm linearly between the two ends.
    direction = (torch.sin((1 - t) * omega)[:, None] * z0 / n0 + torch.sin(t * omega)[:, None] * z1 / n1) / s
    norm = (1 - t) * n0 + t * n1
    return direction / direction.norm(dim=1, keepdim=True) * norm[:, None]


def interpolate(z0: torch.Tensor, z1: torch.Tensor, steps: int, mode: str = "linear") -> torch.Tensor:
    """(steps, latent_dim) codes from z0 to z1 inclusive."""
    if not 2 <= steps <= 64:
        raise ValueError(f"steps must be between 2 and 64, not {steps}")
    t = torch.linspace(0, 1, steps)
    if mode == "linear":
        return torch.lerp(z0.expand(steps, -1), z1.expand(steps, -1), t[:, None])
    if mode == "spherical":
        return slerp(z0, z1, t)
    raise ValueError(f"mode must be linear or spherical, not {mode!r}")


@torch.no_grad()
def decode_images(model: VAE, z: torch.Tensor) -> torch.Tensor:
    """Codes -> images in [0, 1] (the Bernoulli means, or the Gaussian means)."""
    return model.mean_image(model.decode(z.to(next(model.parameters()).device).float())).cpu()


@torch.no_grad()
def encode_images(model: VAE, x: torch.Tensor, batch_size: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """(N, 1, 28, 28) in [0, 1] -> mu, logvar as float32 arrays (N, latent_dim)."""
    mus, logvars = [], []
    for start in range(0, len(x), batch_size):
        mu, logvar = model.encode(x[start:start + batch_size])
        mus.append(mu)
        logvars.append(logvar)
    return torch.cat(mus).numpy().astype(np.float32), torch.cat(logvars).numpy().astype(np.float32)


def manifold(model: VAE, n: int = 15, extent: float = 2.5) -> tuple[np.ndarray, np.ndarray]:
    """For a 2-D model: an n x n mosaic of decoded points whose tiles cover [-extent, extent]^2 exactly.

    Returns (mosaic uint8 without gutters, the tiles' centres along an axis). Row 0 is the top (largest z2).
    """
    if model.latent_dim != 2:
        raise ValueError("the decoded manifold is drawn for 2-D models only")
    half_tile = extent / n
    axis = np.linspace(-extent + half_tile, extent - half_tile, n, dtype=np.float32)
    zz = torch.tensor([[x, y] for y in axis[::-1] for x in axis])
    tiles = to_uint8(decode_images(model, zz))
    rows = [np.concatenate(list(tiles[r * n:(r + 1) * n]), axis=1) for r in range(n)]
    return np.concatenate(rows, axis=0), axis


def informative_dims(kl_per_dim: np.ndarray, count: int) -> list[int]:
    """The latent dimensions carrying the most information (largest average KL), most first."""
    return [int(i) for i in np.argsort(-np.asarray(kl_per_dim))[:count]]


def pca(codes: np.ndarray, k: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(projected codes (N, k), components (k, D), mean (D,), explained variance ratio (k,))."""
    mean = codes.mean(0)
    centred = codes - mean
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    components = vt[:k]
    # A sign convention, so the map does not flip between runs.
    signs = np.sign(components[np.arange(k), np.abs(components).argmax(1)])
    components = components * signs[:, None]
    ratio = (s[:k] ** 2) / max(1e-12, (s ** 2).sum())
    return (centred @ components.T).astype(np.float32), components.astype(np.float32), mean.astype(np.float32), ratio


def umap_embed(codes: np.ndarray, seed: int = 42) -> np.ndarray:
    """A 2-D UMAP (McInnes et al. 2018) of the codes. Slow the first time (numba compiles)."""
    import umap  # imported only when needed: it takes seconds to import

    reducer = umap.UMAP(n_components=2, n_neighbors=15, min_dist=0.1, random_state=seed, n_jobs=1)
    return reducer.fit_transform(codes).astype(np.float32)


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
    embedding = umap_embed(codes)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp-{os.getpid()}-{threading.get_ident()}.npy")
    np.save(tmp, embedding, allow_pickle=False)
    os.replace(tmp, path)
    return embedding


# ----------------------------------------------------------------------------- the registry


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
    model: VAE | None = None
    digest: str | None = None
    embedding: Embedding | None = None
    rd: dict | None = None  # rate and distortion on test digits, for the beta view
    lock: threading.Lock = field(default_factory=threading.Lock)


class Registry:
    """The models the app can show: shipped ones and those trained in the app. Safe across threads."""

    def __init__(self, shipped_dir: str | os.PathLike, user_dir: str | os.PathLike,
                 cache_dir: str | os.PathLike):
        self.shipped_dir, self.user_dir, self.cache_dir = Path(shipped_dir), Path(user_dir), Path(cache_dir)
        self._lock = threading.Lock()
        self._entries: dict[str, Entry] = {}
        self.refresh()

    def refresh(self) -> None:
        found = [(c, True) for c in checkpoints.list_checkpoints(self.shipped_dir)]
        found += [(c, False) for c in checkpoints.list_checkpoints(self.user_dir)]
        with self._lock:
            for c, shipped in found:
                if c["name"] not in self._entries:
                    self._entries[c["name"]] = Entry(c["name"], c["path"], c["config"], c["metrics"], shipped)

    def names(self) -> list[str]:
        with self._lock:
            return list(self._entries)

    def entry(self, name: str) -> Entry:
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
                mu, logvar = encode_images(model, data.to_float(test_images))
                proj, comps, mean, ratio = pca(mu)
                kl = kl_per_dim(torch.from_numpy(mu), torch.from_numpy(logvar)).mean(0).numpy()
                entry.embedding = Embedding(mu, logvar, proj, comps, mean, ratio, kl)
            return entry.embedding

    def umap(self, name: str, test_images: torch.Tensor) -> np.ndarray:
        """UMAP of the model's codes (cached on disk); slow the first time, so call it in the background."""
        emb = self.embedding(name, test_images)
        if emb.umap is None:
            emb.umap_status = "running"
            try:
                emb.umap = cached_umap(emb.mu, self.entry(name).digest, self.cache_dir)
                emb.umap_status = "ready"
            except Exception as e:  # surfaced in the status line, never a crash of the page
                emb.umap_status = f"failed: {type(e).__name__}: {e}"
                raise
        return emb.umap

    def add(self, path: str | os.PathLike) -> str:
        """Register a checkpoint folder that training just wrote; returns its name."""
        cfg, metrics = checkpoints.read_config(path), checkpoints.read_metrics(path)
        name = Path(path).name
        with self._lock:
            self._entries[name] = Entry(name, str(path), cfg, metrics, shipped=False)
        return name
