"""What several views use: limits, the one digit validator, model lookup, pictures and the map figure.

Bad input raises gr.Error with a sentence that says what was expected, and changes nothing.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
from gradio.context import LocalContext
import numpy as np
import torch

from vae_core import concepts, data, images, latent
from vae_core.apart import with_model
from vae_core.checkpoints import CheckpointError

from . import figures
from .state import CTX

log = logging.getLogger("vae_explorer")
CODE_LIMIT = 10.0  # |z| accepted from a click or the API: far past the prior's +-3, short of overflow
DOWNLOADS_KEPT = 64  # files offered for download stay here until this many newer ones were made
CONTEXT_POINTS = 2500  # test digits drawn on the small maps that only give context to a marked point
SMALL_MAP = 380  # the height of those small maps, in pixels
PANEL_DIGITS = 8  # test digits shown in the model panels (one of each class 0-7), always the same ones
# A model without shipped concepts (one trained in the app) gets them from test digits, in a visitor's
# request: its class Gaussians and directions from this many, its percentiles from the scores of
# SCORED_DIGITS more (few: scoring is the slow part).
CONCEPT_DIGITS, SCORED_DIGITS = 2000, 400
UNLIKE_A_DIGIT = 1.0  # below this percentile of the test digits' scores, the model doubts it is a digit


def without_folders(text: str) -> str:
    """A message for the page with every path cut to its file's name: the server's folders are its own."""
    return re.sub(r"(?<![\w./])[~.]{0,2}/(?:[^\s:'\"()/]+/)*", "", text)


def refuse(message: str) -> gr.Error:
    """The error for a visitor's mistake: a sentence on the page, one line in the log (no traceback)."""
    log.info("refused: %s", message.splitlines()[0][:200])
    return gr.Error(message, print_exception=False)


@dataclass(frozen=True)
class Limit:
    """A number a visitor sets: one range, step and default for the widget and the check alike."""

    lo: float
    hi: float
    default: float
    step: float = 1

    def slider(self, label: str, **kwargs) -> gr.Slider:
        return gr.Slider(self.lo, self.hi, value=self.default, step=self.step, label=label, **kwargs)

    def check(self, value, what: str) -> float:
        return check_number(value, self.lo, self.hi, what)


BETA = Limit(0.1, 8.0, 1.0, 0.1)  # the KL weight on the beta view's slider and for training there


def check_number(value, lo: float, hi: float, what: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError, OverflowError):
        raise refuse(f"{what} must be a number between {lo:g} and {hi:g}, not {str(value)[:40]!r}.") from None
    if not lo <= v <= hi:  # NaN fails this too
        raise refuse(f"{what} must be between {lo:g} and {hi:g}; got {v:g}.")
    return v


def digit_tensor(image) -> torch.Tensor:
    """A digit from the page or the API (28 rows of 28 values in [0, 1]) as a (1, 1, 28, 28) tensor."""
    expected = "image must be 28 rows of 28 numbers between 0 and 1"
    # The shape is checked before any conversion, so a huge list is refused at once.
    if not (isinstance(image, (list, np.ndarray)) and len(image) == 28
            and all(isinstance(row, (list, np.ndarray)) and len(row) == 28 for row in image)):
        rows = len(image) if isinstance(image, (list, np.ndarray)) else type(image).__name__
        raise refuse(f"{expected} (got {rows} rows)")
    try:
        x = torch.tensor(np.asarray(image, dtype=np.float32))
    except (TypeError, ValueError, OverflowError):
        raise refuse(f"{expected} (some values are not numbers)") from None
    if not torch.isfinite(x).all() or x.min() < 0 or x.max() > 1:
        raise refuse(f"{expected} (values range from {x.min():g} to {x.max():g})")
    return x.reshape(1, 1, 28, 28)


def get_model(name: str):
    """The model called `name`, for the visitor whose request this is: a model another visitor trained is
    not theirs, through the page or the API alike (the menus list the same); the server's own work (no
    request) may use any."""
    if name is not None and not isinstance(name, str):
        raise refuse(f"model must be a model's name, such as 'mnist-z32', not a {type(name).__name__}.")
    if not name:
        raise refuse("No model is selected (and none was found in checkpoints/).")
    request = LocalContext.request.get(None)
    try:
        if request is not None and not CTX.visible(name, CTX.owner_of(getattr(request, "session_hash", None))):
            raise KeyError(name)
        return CTX.registry.model(name)
    except KeyError:
        raise refuse(f"There is no model called {name[:80]!r}.") from None
    except CheckpointError as e:
        log.warning("model %r cannot be loaded: %s", name, e)  # the server's log names the folder, the page not
        raise refuse(f"The model {name[:80]!r} cannot be loaded: {without_folders(str(e))}") from None


def need_test_images(name: str | None) -> torch.Tensor:
    """The test images of the model's dataset, or the page's sentence saying why they are missing."""
    test = CTX.test_images(name)
    if test is None:
        raise refuse(CTX.missing(name))
    return test


def no_data(name: str | None) -> str:
    """The missing test images, as a view's status line."""
    return f"**{CTX.missing(name)}**"


def digits_image(label: str | None = None, **kwargs) -> gr.Image:
    """A picture of digits the app draws, with sharp pixels, sent as PNG: lossless, and 4-6x faster to make
    than Gradio's default WebP (a class's every click makes one)."""
    return gr.Image(label=label, **{"format": "png", "elem_classes": "digit", "interactive": False, **kwargs})


def picture(x: torch.Tensor | np.ndarray, factor: int = 8) -> np.ndarray:
    """One image in [0, 1] (28, 28) or (1, 1, 28, 28) as an enlarged uint8 picture."""
    return images.upscale(images.to_uint8(x).reshape(28, 28), factor)


def digit_from_test_set(name: str, i: int) -> list:
    """Test image #i of the model's dataset as a 28x28 list in [0, 1], the form of the visitor's current digit."""
    return data.to_float(need_test_images(name)[i:i + 1])[0, 0].numpy().tolist()


GALLERY_SIZE = 24
# The gallery is a fixed random choice of test images, the same for every visitor. Its first image is the
# one Reconstruct opens on: with seed 10 a clear 0 (MNIST #6937) and a trouser (Fashion-MNIST), which every
# shipped model recognises (with seed 7 the 2-number model opened on a 3 it drew back as an 8).
GALLERY_SEED = 10


def gallery_indices(name: str) -> list[int]:
    """A fixed random choice of the model's dataset's test images, the same for every visitor."""
    g = torch.Generator().manual_seed(GALLERY_SEED)
    return torch.randperm(len(need_test_images(name)), generator=g)[:GALLERY_SIZE].tolist()


def current_image(name: str, digit: list | None, source: str) -> tuple[list | None, str]:
    """The visitor's current image for the model shown, as the Reconstruct tab shows it: their own, or
    the gallery's first until they choose one (or when theirs is a test image of another dataset).
    (None, "") only where the model's test images are missing."""
    if digit and not ("test image #" in source and not is_test_source(name, source)):
        return digit, source
    if CTX.test_images(name) is None:
        return None, ""
    i = gallery_indices(name)[0]
    return digit_from_test_set(name, i), test_source(name, i)


def test_source(name: str | None, i: int) -> str:
    """Where the current image came from, in words: "test image #12" (of MNIST), "Fashion-MNIST test image #12"."""
    kind = CTX.kind(name)
    if kind.digits:
        return f"test image #{i}"
    return f"{kind.title} test image #{i}" if kind.dataset in data.DATASETS else f"test image #{i} of {kind.title}"


def is_test_source(name: str | None, source: str) -> bool:
    """Whether `source` (a caption may follow it) names a test image of the model's own dataset, not of
    another model's."""
    found = re.search(r"#(\d+)", source or "")
    return bool(found) and source.startswith(test_source(name, int(found.group(1))))


def class_choices(name: str | None) -> list[tuple[str, str]]:
    """(label, value) pairs of the model's classes for a radio or a menu: ("Sneaker", "7")."""
    return [(c, str(i)) for i, c in enumerate(CTX.kind(name).classes)]


def class_menu(name: str | None, value, start: str, **kwargs):
    """A menu of the model's classes: `value` kept where the model has that class, else `start`, else its
    first class."""
    choices = class_choices(name)
    values = [v for _, v in choices]
    keep = value if value in values else (start if start in values else values[0])
    return gr.update(choices=choices, value=keep, **kwargs)


def check_class(name: str | None, value, what: str) -> int:
    """A class number of the model's dataset, from the page or the API; refused when out of range."""
    n = len(CTX.kind(name).classes)
    v = check_number(value, 0, n - 1, what)
    if v != int(v):
        raise refuse(f"{what} must be a whole number between 0 and {n - 1}; got {v:g}.")
    return int(v)


def download_file(content: bytes, name: str) -> str:
    """A file to offer for download, named by its content (the same strip twice is one file), in one
    folder that keeps only the newest DOWNLOADS_KEPT: no folder per request, no unbounded disk."""
    folder = CTX.registry.cache_dir / "downloads" / hashlib.sha256(content).hexdigest()[:16]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if not path.exists():
        tmp = path.with_suffix(".part")
        tmp.write_bytes(content)
        tmp.replace(path)
    os.utime(folder)  # asked for again: the newest
    made = sorted(folder.parent.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in made[DOWNLOADS_KEPT:]:
        for f in old.iterdir():
            f.unlink(missing_ok=True)
        old.rmdir()
    return str(path)


def map_figure(name: str, projection: str, manifold: bool = False, height: int | None = None,
               points: int | None = None, webgl: bool = False):
    """The latent map of the test set for a model (of `points` of its digits, a fixed choice, if given).
    Without a height, the page's CSS sizes it (#latent-map: to the screen's width on a phone)."""
    model = get_model(name)
    emb = CTX.registry.embedding(name, need_test_images(name))
    labels, kind = CTX.test_labels(name).numpy(), CTX.kind(name)
    index = np.arange(len(labels))
    if points is not None and points < len(index):
        index = np.sort(np.random.default_rng(0).permutation(len(index))[:points])
    if model.latent_dim == 2:
        extent = latent.plane_extent(emb.mu)
        bg = latent.manifold(model, n=23, extent=extent) if manifold else None
        regions = class_regions(name) if webgl else None  # on the main map only
        return figures.latent_map(emb.mu[index], labels[index], f"{name}: the 2-D latent space itself",
                                  "z1", "z2", background=bg, clickable_extent=extent,
                                  height=height, index=index, webgl=webgl, regions=regions,
                                  classes=kind.classes, noun=kind.noun)
    if projection == "UMAP" and emb.umap is not None:
        return figures.latent_map(emb.umap[index], labels[index], f"{name}: UMAP of the {model.latent_dim}-D codes",
                                  "UMAP 1", "UMAP 2", height=height, index=index, webgl=webgl,
                                  classes=kind.classes, noun=kind.noun)
    r = emb.pca_ratio
    return figures.latent_map(emb.pca[index], labels[index], f"{name}: PCA of the {model.latent_dim}-D codes",
                              f"direction 1 of PCA ({r[0]:.0%} of the differences)", f"direction 2 ({r[1]:.0%})", height=height,
                              index=index, webgl=webgl, classes=kind.classes, noun=kind.noun)


def project(name: str, z: np.ndarray) -> np.ndarray:
    """Codes -> the 2-D plane of the PCA map (or the space itself for a 2-D model)."""
    emb = CTX.registry.embedding(name, need_test_images(name))
    z = np.atleast_2d(z)
    if z.shape[1] == 2:
        return z
    return (z - emb.pca_mean) @ emb.pca_components.T


def marked_map(name: str, points: np.ndarray, label: str, height: int, line: bool = False):
    """The PCA map with codes marked on it (a point, or a path); None without test digits."""
    if CTX.test_images(name) is None:
        return None
    fig = map_figure(name, "PCA", height=height, points=CONTEXT_POINTS)
    return figures.mark_points(fig, project(name, points), label, line=line)


def panel_digits(name: str) -> torch.Tensor:
    """PANEL_DIGITS test images of the model's dataset, the same for every model of it: the first of each
    class in turn (0..7 for MNIST), then the first others where it has fewer classes."""
    test, labels = need_test_images(name), CTX.test_labels(name)
    firsts = [int(hits[0]) for c in range(int(labels.max()) + 1) if len(hits := torch.nonzero(labels == c)[:, 0])]
    idx = (firsts + [i for i in range(len(test)) if i not in firsts])[:PANEL_DIGITS]
    return data.to_float(test[sorted(idx, key=lambda i: int(labels[i]))])


@torch.no_grad()
def model_panels(name: str) -> tuple[np.ndarray, np.ndarray]:
    """The panel digits over their reconstructions, and 16 samples from fixed codes of the prior."""
    model = get_model(name)
    digits = panel_digits(name)
    mu, _ = model.encode(digits)
    recon = latent.decode_images(model, mu)
    g = torch.Generator().manual_seed(0)
    samples = latent.decode_images(model, torch.randn(16, model.latent_dim, generator=g))
    return (images.grid(torch.cat([digits, recon]), ncols=PANEL_DIGITS, factor=3),
            images.grid(samples, ncols=8, factor=3))


def concepts_of(name: str) -> concepts.Concepts:
    """The model's class regions, property directions and test-image scores: shipped beside its weights
    (concepts.safetensors, fitted on the training set by benchmarks/concepts.py --save), else fitted once
    on its dataset's test images (on a small test split, all of it for both the fit and the scores)."""
    path = Path(CTX.registry.entry(name).path) / "concepts.safetensors"

    def compute(model):
        try:
            return concepts.Concepts.load(path)
        except FileNotFoundError:
            pass
        except Exception as e:  # a damaged file: fit again rather than fail
            log.warning("%s: unreadable %s (%s); fitting on test digits", name, path.name, e)
        test, labels, n = need_test_images(name), CTX.test_labels(name), CONCEPT_DIGITS
        classes = len(CTX.kind(name).classes)
        if len(test) < 2:
            raise refuse("This model's dataset has too few test images (fewer than 2) to tell its classes apart.")
        # seconds of a core: apart, where the server's requests need not wait for it
        if len(test) < n + SCORED_DIGITS:
            return with_model(concepts.fit, path.parent, test, labels, test, classes)
        return with_model(concepts.fit, path.parent, test[:n], labels[:n], test[n:n + SCORED_DIGITS], classes)
    return CTX.registry.memo(name, "concepts", compute)


@torch.no_grad()
def recognise(name: str, x: torch.Tensor) -> dict:
    """Which class an image (1, 1, 28, 28) looks like to the model, and how typical of its dataset it is.
    ("digit" is the class's number, for every dataset; "class" its name.)"""
    model, c = get_model(name), concepts_of(name)
    mu, _ = model.encode(x)
    probabilities = c.class_probabilities(mu.numpy())[0]
    bound, typicality = float(concepts.bounds(model, x, c)[0]), float(c.log_prior(mu.double())[0])
    best = int(probabilities.argmax())
    return {"digit": best, "class": CTX.kind(name).name(best), "probabilities": probabilities.round(4).tolist(),
            "percentile": round(c.percentile(bound, typicality), 2), "bound_nats": round(bound, 2)}


def recognition_words(r: dict, name: str | None = None) -> str:
    """A recognition in a sentence a 14-year-old reads at a glance, in the words of the model's dataset."""
    kind = CTX.kind(name)
    real = "real handwritten digits" if kind.digits else f"the real {kind.nouns} of {kind.title}"
    sure = f"**It looks most like {kind.a(r['digit'])}** ({r['probabilities'][r['digit']]:.0%} sure)."
    if r["percentile"] < UNLIKE_A_DIGIT:
        than = (f"{100 - r['percentile']:.1f}% of {real}" if r["percentile"] > 0
                else f"every one of {real} it was tested on")
        return f"{sure} But it is less typical than {than}: to the model, **this is probably not {kind.one}**."
    how = "How digit-like it is" if kind.digits else "How typical it is"
    return f"{sure} {how} to the model: more typical than {r['percentile']:.0f}% of {real}."


def class_regions(name: str) -> list[np.ndarray]:
    """Where each class lives on a 2-D model's plane: the outline holding about 86% of its codes
    (2 standard deviations of its Gaussian)."""
    c = concepts_of(name)
    t = np.linspace(0, 2 * np.pi, 49)
    circle = 2 * np.stack([np.cos(t), np.sin(t)])
    return [(m[:, None] + L @ circle).T for m, L in zip(c.means, c.chols)]
