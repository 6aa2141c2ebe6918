"""Things people can name, found in a trained model's latent space: where each digit class lives (to
make a digit of a chosen class, and to say which class an image looks like), directions for stroke
thickness, slant, width and height, and how digit-like an image is: by the model's own likelihood bound
(can the model draw it?) and by how usual its code is among the digits' codes (does the encoder put it
where digits go?).

Everything here is fitted from codes (the encoder's means) and plain image measurements; nothing is
trained. The fitted numbers are small (10 class Gaussians, 4 directions) and saved as safetensors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import load_file, save_file

from . import data, latent
from .evaluate import bernoulli_logits
from .losses import bernoulli_log_likelihood, log_normal
from .model import VAE

PROPERTIES = ("thickness", "slant", "width", "height")
INK = 0.5  # a pixel is ink above this value
RIDGE = 1e-3  # added to each class covariance's diagonal, so that it stays invertible
LIKELIHOOD_SAMPLES = 64  # importance samples for an image's bound: a few nats from k = 1000, in milliseconds
LIKELIHOOD_SEED = 1234  # the fixed binarisation every image is scored with


def measure(images: torch.Tensor | np.ndarray) -> dict[str, np.ndarray]:
    """Per image (N, 28, 28 or N, 1, 28, 28; values in [0, 1]): stroke thickness in pixels (twice the
    ink area over its outline), slant (horizontal shift of the ink per row going up: positive leans
    right), and the width and height of the ink's bounding box in pixels."""
    x = np.asarray(images, dtype=np.float32).reshape(-1, 28, 28)
    ink = x > INK
    padded = np.pad(ink, ((0, 0), (1, 1), (1, 1)))
    inner = (padded[:, :-2, 1:-1] & padded[:, 2:, 1:-1] & padded[:, 1:-1, :-2] & padded[:, 1:-1, 2:])
    outline = (ink & ~inner).sum((1, 2))
    area = ink.sum((1, 2))
    thickness = 2 * area / np.maximum(outline, 1)
    rows, cols = np.arange(28, dtype=np.float32)[:, None], np.arange(28, dtype=np.float32)[None, :]
    mass = np.maximum(x.sum((1, 2)), 1e-6)
    cy = (x * rows).sum((1, 2)) / mass
    cx = (x * cols).sum((1, 2)) / mass
    dy, dx = rows[None] - cy[:, None, None], cols[None] - cx[:, None, None]
    # Rows grow downwards: a digit leaning right has ink further right as it goes up (dy < 0).
    slant = -(x * dx * dy).sum((1, 2)) / np.maximum((x * dy * dy).sum((1, 2)), 1e-6)
    any_cols, any_rows = ink.any(1), ink.any(2)
    width = np.where(area > 0, 28 - np.argmax(any_cols, 1) - np.argmax(any_cols[:, ::-1], 1), 0)
    height = np.where(area > 0, 28 - np.argmax(any_rows, 1) - np.argmax(any_rows[:, ::-1], 1), 0)
    return {"thickness": thickness, "slant": slant, "width": width.astype(np.float32),
            "height": height.astype(np.float32)}


@dataclass
class Concepts:
    """A model's class Gaussians and property directions, fitted to codes of labelled digits."""

    means: np.ndarray  # (10, d) mean code of each class
    chols: np.ndarray  # (10, d, d) Cholesky factor of each class's code covariance
    directions: np.ndarray  # (4, d) unit direction in code space per property, in PROPERTIES' order
    per_unit: np.ndarray  # (4,) code distance along a direction that changes its property by one std
    test_bounds: np.ndarray  # (N,) log-likelihood bounds of test digits, paired with test_typicality
    test_typicality: np.ndarray  # (N,) log density of the same test digits' codes under log_prior
    typicality_weight: float = 1.0  # how much the code's typicality counts beside the bound (0: not at all)
    # (10, d, d) Cholesky factor of the spread of each class's means alone: what new digits are drawn from.
    # Concepts saved before it existed draw from `chols`.
    sample_chols: np.ndarray | None = None

    def __post_init__(self):
        if self.sample_chols is None:
            self.sample_chols = self.chols

    def sample(self, digit: int, n: int, variety: float, generator: torch.Generator | None = None) -> torch.Tensor:
        """n codes of class `digit`: its mean plus variety times a draw from the spread of its codes' means
        (0: the mean). Not from its Gaussian, which adds the encoder's uncertainty: the decoder learnt to draw
        from codes as the encoder places them, and those the uncertainty adds make fewer digits of the class
        (benchmarks/RESULTS.md, section 7)."""
        eps = torch.randn(n, self.means.shape[1], generator=generator)
        z = torch.from_numpy(self.means[digit]) + variety * eps @ torch.from_numpy(self.sample_chols[digit]).T
        return z.float()

    def per_class(self, z: torch.Tensor) -> torch.Tensor:
        """(..., 10) log density of codes (..., d) under each class's Gaussian."""
        means, chols = torch.from_numpy(self.means).to(z.dtype), torch.from_numpy(self.chols).to(z.dtype)
        diff = (z.unsqueeze(-2) - means).unsqueeze(-1)  # (..., 10, d, 1)
        solved = torch.linalg.solve_triangular(chols, diff, upper=False).squeeze(-1)  # L^-1 (z - m)
        log_det = torch.log(torch.diagonal(chols, dim1=-2, dim2=-1)).sum(-1)
        return -0.5 * (solved ** 2).sum(-1) - log_det - 0.5 * z.shape[-1] * math.log(2 * math.pi)

    def log_prior(self, z: torch.Tensor) -> torch.Tensor:
        """log density of codes (..., d) under the digits' own code distribution: an equal mixture of the
        ten class Gaussians."""
        return torch.logsumexp(self.per_class(z), -1) - math.log(len(self.means))

    def class_probabilities(self, z: np.ndarray) -> np.ndarray:
        """(N, 10) how likely each code is to be of each class (equal priors)."""
        z = torch.as_tensor(np.atleast_2d(np.asarray(z, dtype=np.float64)))
        return torch.softmax(self.per_class(z), -1).numpy()

    def classify(self, z: np.ndarray) -> np.ndarray:
        """The class whose Gaussian gives each code the highest density."""
        return self.class_probabilities(z).argmax(1)

    def move(self, z: torch.Tensor, prop: str, amount: float) -> torch.Tensor:
        """Codes moved along a property's direction by `amount` standard deviations of that property."""
        i = PROPERTIES.index(prop)
        step = torch.from_numpy(self.directions[i] * self.per_unit[i]).float()
        return z + amount * step

    def likeness(self, bound: np.ndarray, typicality: np.ndarray) -> np.ndarray:
        """How digit-like images are, from their bound and their code's typicality, each in standard
        deviations of the test digits' own (higher = more digit-like). A letter or a scribble made of
        digit-like strokes can get a fair bound; its code then still falls where no digit's does."""
        def z(v, ref):
            return (np.asarray(v, dtype=np.float64) - ref.mean()) / max(ref.std(), 1e-9)
        return z(bound, self.test_bounds) + self.typicality_weight * z(typicality, self.test_typicality)

    def percentile(self, bound: float, typicality: float) -> float:
        """The share of test digits (in %) less digit-like than this image: 0.3 means less typical than
        99.7% of real digits."""
        tested = np.sort(self.likeness(self.test_bounds, self.test_typicality))
        return float(100.0 * np.searchsorted(tested, float(self.likeness(bound, typicality))) / len(tested))

    def save(self, path: str | Path) -> None:
        save_file({"means": self.means, "chols": self.chols, "directions": self.directions,
                   "per_unit": self.per_unit, "test_bounds": self.test_bounds,
                   "test_typicality": self.test_typicality,
                   "typicality_weight": np.array([self.typicality_weight], dtype=np.float32),
                   "sample_chols": self.sample_chols}, str(path))

    @classmethod
    def load(cls, path: str | Path) -> "Concepts":
        t = load_file(str(path))
        return cls(t["means"], t["chols"], t["directions"], t["per_unit"], t["test_bounds"], t["test_typicality"],
                   float(t["typicality_weight"][0]), t.get("sample_chols"))


@torch.no_grad()
def morph(model: VAE, x: torch.Tensor, fitted: Concepts, digit: int, steps: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """An image (1, 1, 28, 28) in [0, 1] turned step by step into a typical `digit`: the codes on the
    straight line from its code (the encoder's mean) to the centre of that digit's class, and what the
    decoder draws at each. Returns (codes (steps, d), images (steps, 1, 28, 28))."""
    if not 0 <= int(digit) < len(fitted.means) or steps < 2:
        raise ValueError(f"morph into a class 0-{len(fitted.means) - 1}, in at least 2 steps")
    mu, _ = model.encode(x.float().reshape(-1, 1, 28, 28)[:1])
    path = latent.interpolate(mu[0], torch.from_numpy(fitted.means[int(digit)]).to(mu.dtype), steps, "linear")
    return path, latent.decode_images(model, path)


@torch.no_grad()
def typicality(model: VAE, images: torch.Tensor, fitted: Concepts) -> np.ndarray:
    """How usual each image's code is among digits' codes: the log density of the encoder's mean under
    the digits' own code distribution (the ten class Gaussians). Same input, same number."""
    x = data.to_float(images) if images.dtype == torch.uint8 else images.float().reshape(-1, 1, 28, 28)
    mu = torch.cat([model.encode(x[s:s + 1000])[0] for s in range(0, len(x), 1000)])
    return fitted.log_prior(mu.double()).numpy()


def score(model: VAE, images: torch.Tensor, fitted: Concepts) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each image's bound (nats), its code's typicality, and how digit-like that makes it (likeness)."""
    b, t = bounds(model, images, fitted), typicality(model, images, fitted)
    return b, t, fitted.likeness(b, t)


@torch.no_grad()
def bounds(model: VAE, images: torch.Tensor, fitted: "Concepts", k: int = LIKELIHOOD_SAMPLES,
           batch_size: int = 250) -> np.ndarray:
    """How digit-like images are (uint8, or float in [0, 1]): the model's importance-weighted bound on
    log p(x) in nats (higher = more digit-like), with the digits' own code distribution as the prior, so
    that a picture whose code falls between the classes scores low. Every image is binarised the same
    fixed way and gets the same samples: an image always gets the same score."""
    x = data.to_float(images) if images.dtype == torch.uint8 else images.float().reshape(-1, 1, 28, 28)
    g = torch.Generator().manual_seed(LIKELIHOOD_SEED)
    out = []
    for s in range(0, len(x), batch_size):
        xb = data.binarize(x[s:s + batch_size], g)
        mu, logvar = model.encode(xb)
        b = len(xb)
        eps = torch.randn(k, mu.shape[1], generator=torch.Generator().manual_seed(LIKELIHOOD_SEED))
        z = mu.unsqueeze(1) + torch.exp(0.5 * logvar).unsqueeze(1) * eps  # (b, k, d)
        logits = bernoulli_logits(model, z.reshape(b * k, -1)).float()
        target = xb.unsqueeze(1).expand(b, k, *xb.shape[1:]).reshape(b * k, *xb.shape[1:])
        log_px = bernoulli_log_likelihood(logits, target).view(b, k)
        log_w = log_px + fitted.log_prior(z) - log_normal(z, mu.unsqueeze(1), logvar.unsqueeze(1))
        out.append(torch.logsumexp(log_w, 1) - math.log(k))
    return torch.cat(out).double().numpy()


@torch.no_grad()
def fit(model: VAE, images: torch.Tensor, labels: torch.Tensor, test_images: torch.Tensor,
        n_classes: int = 10) -> Concepts:
    """Fit the class Gaussians and the property directions to the codes of labelled images (uint8,
    N x 28 x 28) of `n_classes` classes, and score the test images for percentiles. A class with fewer
    than two images borrows the spread of all of them (and, with none, their mean)."""
    x = data.to_float(images)
    codes = [model.encode(x[s:s + 1000]) for s in range(0, len(x), 1000)]
    mu = torch.cat([m for m, _ in codes]).double().numpy()
    var = torch.cat([lv.exp() for _, lv in codes]).double().numpy()
    y = labels.numpy()
    d = mu.shape[1]
    # Each class's codes as the encoder draws them (mu plus sigma noise): the spread of its means plus its
    # average uncertainty. A dimension the model does not use keeps its sigma of about 1. New digits are
    # drawn from the spread of the means alone (sample_chols).
    members = [y == c if (y == c).sum() >= 2 else np.ones_like(y, dtype=bool) for c in range(n_classes)]
    means = np.stack([mu[y == c].mean(0) if (y == c).any() else mu.mean(0) for c in range(n_classes)])
    spreads = [np.atleast_2d(np.cov(mu[m].T)) for m in members]
    chols = np.stack([np.linalg.cholesky(s + np.diag(var[m].mean(0)) + RIDGE * np.eye(d))
                      for s, m in zip(spreads, members)])
    sample_chols = np.stack([np.linalg.cholesky(s + RIDGE * np.eye(d)) for s in spreads])
    props = measure(x)
    design = np.hstack([mu, np.ones((len(mu), 1))])
    directions, per_unit = [], []
    for p in PROPERTIES:
        w = np.linalg.lstsq(design, props[p], rcond=None)[0][:-1]
        norm = np.linalg.norm(w)
        directions.append(w / norm)
        per_unit.append(props[p].std() / norm)  # moving this far along w/|w| changes p by one std
    # On a 2-D model the ten classes tile the whole plane, so where a code falls says little about whether
    # the picture is a digit: there only the bound counts (benchmarks/concepts.py: AUROC 0.90 with the
    # bound alone, 0.88 with both; on the 32-D model 0.90 and 0.97).
    empty = np.zeros(0, dtype=np.float32)
    fitted = Concepts(means.astype(np.float32), chols.astype(np.float32), np.stack(directions).astype(np.float32),
                      np.array(per_unit, dtype=np.float32), empty, empty, 1.0 if d > 2 else 0.0,
                      sample_chols.astype(np.float32))
    fitted.test_bounds = bounds(model, test_images, fitted).astype(np.float32)
    fitted.test_typicality = typicality(model, test_images, fitted).astype(np.float32)
    return fitted
