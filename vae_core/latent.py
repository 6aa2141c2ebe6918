"""Latent-space maths on a loaded model: encode and decode in bulk, interpolate, 2-D maps.

Everything here takes a model and plain tensors or arrays and returns the same; it keeps no state.
"""

from __future__ import annotations

import numpy as np
import torch

from .apart import run_apart
from .images import to_uint8
from .model import VAE


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


def plane_extent(mu: np.ndarray) -> float:
    """Half-width of a 2-D map: the prior's +-3 at least, widened in halves to hold 99.9% of the codes."""
    return float(min(6.0, max(3.0, np.ceil(2 * np.quantile(np.abs(mu), 0.999)) / 2)))


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


def umap_apart(codes: np.ndarray, seed: int = 42) -> np.ndarray:
    """umap_embed in a process of its own (apart.run_apart), for a program that must answer meanwhile:
    in a server's thread, numba's compiling and UMAP's Python loops hold the interpreter lock."""
    return run_apart(umap_embed, codes, seed)
