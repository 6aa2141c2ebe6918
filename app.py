"""VAE latent-space explorer: a Gradio app on top of vae_core.

    python app.py [--host 127.0.0.1] [--port 7860] [--share] [--data-dir DIR]

Layout and wiring only: every computation is a call into vae_core (explore, figures, evaluate, train).
Importing this module builds the Blocks (`demo`) but neither launches it nor loads any model.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import tempfile
import threading
import time
from pathlib import Path

import gradio as gr
import numpy as np
import torch

from vae_core import data, explore, figures
from vae_core.checkpoints import CheckpointError
from vae_core.config import TrainConfig
from vae_core.evaluate import rate_and_distortion
from vae_core.explore import Registry
from vae_core.train import train as run_training

ROOT = Path(__file__).resolve().parent
MAIN_MODEL = "mnist-z32"
MAX_SLIDERS = 8
SLIDER_RANGE = 3.0  # +-3 sigma of the prior: beyond it the decoder has seen almost nothing
GALLERY_SIZE = 24
BETA_DIGITS = 8  # test digits shown for every beta, always the same ones
MAX_TRAIN_EPOCHS = 10
NO_DATA = ("**This view needs the MNIST test set**, which was not found. Start the app with "
           "`--data-dir DIR` or set `VAE_DATA_DIR` to a folder holding the four MNIST files "
           "(it downloads them there when the network allows). Generating and drawing work without it.")


# ============================================================================ state shared by visitors


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


class TrainingSlot:
    """One training run at a time; up to `max_waiting` visitors wait in line, the rest are told it is busy."""

    def __init__(self, max_waiting: int):
        self.max_waiting = max_waiting
        self._cv = threading.Condition()
        self._busy = False
        self._waiting = 0
        self.status = ""

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


# ============================================================================ helpers


def _model(name: str):
    if not name:
        raise gr.Error("No model is selected (and none was found in checkpoints/).")
    try:
        return CTX.registry.model(name)
    except KeyError:
        raise gr.Error(f"There is no model called {name!r}.") from None
    except CheckpointError as e:
        raise gr.Error(f"That model cannot be loaded: {e}") from None


def _need_test_images() -> torch.Tensor:
    images = CTX.test_images()
    if images is None:
        raise gr.Error(NO_DATA.replace("**", "").replace("`", ""))
    return images


def _img(x: torch.Tensor | np.ndarray, factor: int = 8) -> np.ndarray:
    """One image in [0, 1] (28, 28) or (1, 1, 28, 28) as an enlarged uint8 picture."""
    a = explore.to_uint8(x)
    return explore.upscale(a.reshape(28, 28), factor)


def _check_range(value, lo, hi, what):
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise gr.Error(f"{what} must be a number, not {value!r}.") from None
    if not lo <= v <= hi or v != v:
        raise gr.Error(f"{what} must be between {lo:g} and {hi:g}; got {v:g}.")
    return v


def model_summary(name: str) -> str:
    if not name:
        return "No models found: train one with `python -m vae_core.train` (see the README)."
    e = CTX.registry.entry(name)
    m = e.config["model"]
    test = e.metrics.get("test", {})
    parts = [f"**{name}**: latent dimension {m['latent_dim']}, β = {e.config.get('beta', 1):g}, "
             f"{m['likelihood']} decoder ({m['arch']} network)"]
    if test.get("nll"):
        parts.append(f"test NLL {test['nll']:.1f} nats (k = {test['k']}), {test['active_units']} active units")
    if not e.shipped:
        parts.append("trained in this app")
    return " · ".join(parts)


def _map_base(name: str, projection: str, manifold: bool = False, height: int = 560):
    """The latent map of the test set for a model, as a figure, and the coordinates used."""
    model = _model(name)
    images = _need_test_images()
    emb = CTX.registry.embedding(name, images)
    labels = CTX.mnist().test_labels.numpy()
    if model.latent_dim == 2:
        bg = explore.manifold(model, n=21, extent=3.0) if manifold else None
        fig = figures.latent_map(emb.mu, labels, f"{name}: the 2-D latent space itself (posterior means)",
                                 "z1", "z2", background=bg, clickable_extent=3.0, height=height)
        return fig, emb.mu
    if projection == "UMAP" and emb.umap is not None:
        fig = figures.latent_map(emb.umap, labels, f"{name}: UMAP of the {model.latent_dim}-D codes",
                                 "UMAP 1", "UMAP 2", height=height)
        return fig, emb.umap
    r = emb.pca_ratio
    fig = figures.latent_map(emb.pca, labels, f"{name}: PCA of the {model.latent_dim}-D codes",
                             f"PC1 ({r[0]:.0%} of variance)", f"PC2 ({r[1]:.0%})", height=height)
    return fig, emb.pca


def _project(name: str, z: np.ndarray) -> np.ndarray:
    """Codes -> the 2-D plane of the PCA map (or the space itself for a 2-D model)."""
    emb = CTX.registry.embedding(name, _need_test_images())
    z = np.atleast_2d(z)
    if z.shape[1] == 2:
        return z
    return (z - emb.pca_mean) @ emb.pca_components.T


def _projection_choices(name: str) -> list[str]:
    model = _model(name)
    return ["2-D latent"] if model.latent_dim == 2 else ["PCA", "UMAP"]


# ============================================================================ latent map


MAP_NOTE_2D = ("This model has two latent dimensions, so the map *is* its latent space: every dot is the "
               "encoder's mean for one test digit. Click a dot to see that digit, or click empty space "
               "to decode that spot. Tick *Show decoded digits* to lay the decoder's view under the dots.")
MAP_NOTE_ND = ("Every dot is the code of one real test digit, flattened from {d} dimensions to two. "
               "A projected map shows where real digits land; the space *between* dots is squeezed and "
               "decoding it is not shown here (use a 2-D model, or the Generate and Interpolate tabs). "
               "Click a dot to see the digit, its reconstruction and its code.")


def show_map(name: str, projection: str, manifold: bool):
    if CTX.test_images() is None:
        return None, NO_DATA, ""
    model = _model(name)
    choices = _projection_choices(name)
    projection = projection if projection in choices else choices[0]
    status = ""
    if projection == "UMAP":
        emb = CTX.registry.embedding(name, CTX.test_images())
        if emb.umap is None:
            _start_umap(name)
            status = (f"UMAP for {name} is being computed in the background ({emb.umap_status}); "
                      "PCA is shown until it is ready. The map switches by itself.")
    fig, _ = _map_base(name, projection, manifold)
    note = MAP_NOTE_2D if model.latent_dim == 2 else MAP_NOTE_ND.format(d=model.latent_dim)
    return fig, note, status


def _start_umap(name: str) -> None:
    emb = CTX.registry.embedding(name, CTX.test_images())
    if emb.umap_status in ("running", "ready"):
        return
    emb.umap_status = "running"

    def work():
        try:
            CTX.registry.umap(name, CTX.test_images())
        except Exception:
            pass  # the status line says what failed
    threading.Thread(target=work, daemon=True, name=f"umap-{name}").start()


def poll_umap(name: str, projection: str, manifold: bool, shown: str):
    """Timer tick: when a UMAP that the visitor asked for is ready, swap it in (once)."""
    if projection != "UMAP" or not name or CTX.test_images() is None:
        return gr.skip(), gr.skip(), shown
    emb = CTX.registry.embedding(name, CTX.test_images())
    if emb.umap is None:
        if emb.umap_status.startswith("failed"):
            return gr.skip(), f"UMAP could not be computed: {emb.umap_status}", shown
        return gr.skip(), gr.skip(), shown
    if shown == f"{name}:UMAP":
        return gr.skip(), gr.skip(), shown
    fig, _ = _map_base(name, "UMAP", manifold)
    return fig, "UMAP ready (cached on disk for this model).", f"{name}:UMAP"


def map_click(name: str, payload: str):
    """A click on the map, sent by the page's JavaScript bridge as JSON {index} or {x, y}."""
    try:
        click = json.loads(payload or "{}")
    except json.JSONDecodeError:
        raise gr.Error("The map sent an unreadable click.") from None
    model = _model(name)
    images = _need_test_images()
    if click.get("index") is not None:
        i = int(click["index"])
        if not 0 <= i < len(images):
            raise gr.Error(f"There is no test image #{i}.")
        x = data.to_float(images[i:i + 1])
        mu, logvar = model.encode(x)
        recon = explore.decode_images(model, mu)
        sigma = torch.exp(0.5 * logvar)[0].detach().numpy()
        label = int(CTX.mnist().test_labels[i])
        dims = explore.informative_dims(CTX.registry.embedding(name, images).kl_per_dim, 6)
        code = ", ".join(f"z{d + 1} = {mu[0, d]:.2f} ± {sigma[d]:.2f}" for d in dims)
        text = (f"**Test image #{i}, a {label}.** Left: the digit. Right: the decoder's reconstruction from "
                f"its code's mean. Most informative dimensions: {code}.")
        return _img(x), _img(recon), text
    if model.latent_dim != 2:
        return gr.skip(), gr.skip(), "Click a dot: on a projected map, empty space has no single code."
    zx = _check_range(click.get("x"), -10, 10, "x")
    zy = _check_range(click.get("y"), -10, 10, "y")
    image = explore.decode_images(model, torch.tensor([[zx, zy]]))
    return None, _img(image), f"**Decoded z = ({zx:.2f}, {zy:.2f})**: no test digit needed; this is what the decoder draws there."


# ============================================================================ generate


def gen_setup(name: str):
    """A new model: pick which dimensions the sliders drive, reset the point to the origin."""
    model = _model(name)
    if model.latent_dim == 2:
        dims = [0, 1]
        info = "This model's whole latent space is two numbers: the two sliders span it."
    else:
        emb = CTX.registry.embedding(name, CTX.test_images()) if CTX.test_images() is not None else None
        if emb is not None:
            dims = explore.informative_dims(emb.kl_per_dim, MAX_SLIDERS)
            info = (f"The {len(dims)} sliders drive the {len(dims)} most informative of {model.latent_dim} "
                    "dimensions (largest average KL on the test set); the others stay at the current point.")
        else:
            dims = list(range(min(MAX_SLIDERS, model.latent_dim)))
            info = f"The sliders drive dimensions 1 to {len(dims)}; the others stay at the current point."
    z = [0.0] * model.latent_dim
    sliders = [gr.update(visible=i < len(dims), value=0.0,
                         label=f"z{dims[i] + 1}" if i < len(dims) else "") for i in range(MAX_SLIDERS)]
    return [z, dims, info, *sliders, _img(explore.decode_images(_model(name), torch.zeros(1, model.latent_dim)))]


def decode_point(name: str, z: list[float], dims: list[int], *values):
    """Slider moved: set those dimensions of the current point and decode it."""
    model = _model(name)
    z = list(z or [0.0] * model.latent_dim)
    if len(z) != model.latent_dim:
        z = [0.0] * model.latent_dim
    for d, v in zip(dims or [], values):
        z[d] = _check_range(v, -SLIDER_RANGE, SLIDER_RANGE, f"z{d + 1}")
    image = explore.decode_images(model, torch.tensor([z]))
    return _img(image), z


def random_point(name: str, dims: list[int], temperature: float, seed: float | None = None):
    model = _model(name)
    t = _check_range(temperature, 0.0, 3.0, "temperature")
    g = torch.Generator().manual_seed(int(seed)) if seed is not None else None
    z = (torch.randn(1, model.latent_dim, generator=g) * t).clamp(-SLIDER_RANGE, SLIDER_RANGE)
    values = [gr.update(value=round(float(z[0, d]), 3)) for d in dims] + [gr.skip()] * (MAX_SLIDERS - len(dims))
    return [z[0].tolist(), _img(explore.decode_images(model, z)), *values]


def reset_point(name: str, dims: list[int]):
    model = _model(name)
    z = torch.zeros(1, model.latent_dim)
    values = [gr.update(value=0.0) for _ in dims] + [gr.skip()] * (MAX_SLIDERS - len(dims))
    return [z[0].tolist(), _img(explore.decode_images(model, z)), *values]


def sample_grid(name: str, temperature: float):
    model = _model(name)
    t = _check_range(temperature, 0.0, 3.0, "temperature")
    z = torch.randn(36, model.latent_dim) * t
    return explore.grid(explore.decode_images(model, z), ncols=6, factor=3)


def gen_map(name: str, z: list[float]):
    if CTX.test_images() is None or not z:
        return None
    fig, _ = _map_base(name, "PCA", height=380)
    return figures.mark_points(fig, _project(name, np.array(z)), "current point")


# ============================================================================ reconstruct


def gallery_items():
    images = CTX.test_images()
    if images is None:
        return []
    g = torch.Generator().manual_seed(7)
    idx = torch.randperm(len(images), generator=g)[:GALLERY_SIZE].tolist()
    labels = CTX.mnist().test_labels
    return [(_img(data.to_float(images[i:i + 1]), 3), f"#{i}: a {int(labels[i])}") for i in idx]


def _gallery_index(evt_index: int) -> int:
    g = torch.Generator().manual_seed(7)
    return int(torch.randperm(len(CTX.test_images()), generator=g)[evt_index])


def pick_gallery(name: str, evt: gr.SelectData):
    images = _need_test_images()
    i = _gallery_index(evt.index)
    digit = data.to_float(images[i:i + 1])[0, 0].numpy().tolist()
    return (digit, f"test image #{i}", *reconstruct(name, digit, f"test image #{i}"))


def pick_sketch(name: str, sketch):
    composite = sketch.get("composite") if isinstance(sketch, dict) else sketch
    if composite is None:
        raise gr.Error("Draw a digit on the sketchpad first.")
    try:
        digit = explore.prepare_user_image(composite).tolist()
    except ValueError as e:
        raise gr.Error(str(e)) from None
    return (digit, "your drawing", *reconstruct(name, digit, "your drawing"))


def pick_upload(name: str, file):
    if file is None:
        return (gr.skip(),) * 7
    path = file if isinstance(file, str) else getattr(file, "name", None)
    try:
        digit = explore.prepare_user_image(explore.load_image_file(path)).tolist()
    except ValueError as e:
        raise gr.Error(str(e)) from None
    return (digit, "your upload", *reconstruct(name, digit, "your upload"))


def reconstruct(name: str, digit: list | None, source: str):
    """The current digit through the model: what it sees, its code, the reconstruction, its place."""
    if not digit:
        return None, None, None, None, "Pick a digit from the gallery, draw one, or upload a picture."
    model = _model(name)
    x = torch.tensor(digit, dtype=torch.float32).reshape(1, 1, 28, 28)
    if x.min() < 0 or x.max() > 1 or not torch.isfinite(x).all():
        raise gr.Error("A digit is 28x28 numbers between 0 and 1.")
    mu, logvar = model.encode(x)
    recon = explore.decode_images(model, mu)
    mu_np, sigma_np = mu[0].detach().numpy(), torch.exp(0.5 * logvar)[0].detach().numpy()
    dims = None
    place = None
    if CTX.test_images() is not None:
        emb = CTX.registry.embedding(name, CTX.test_images())
        if model.latent_dim > 16:
            dims = sorted(explore.informative_dims(emb.kl_per_dim, 16))
        fig, _ = _map_base(name, "PCA", height=380)
        place = figures.mark_points(fig, _project(name, mu_np), source)
    bars = figures.posterior_bars(mu_np, sigma_np, dims)
    shown = "the 16 most informative dimensions" if dims else "every dimension"
    text = (f"**{source}** as the model sees it (28x28, centred like MNIST), and its reconstruction from "
            f"the code's mean. The chart shows {shown}: a narrow bar is a confident encoder.")
    return _img(x), _img(recon), bars, place, text


def resample(name: str, digit: list | None):
    """Draw eps again: z = mu + sigma * eps, eight times. The encoder gives a distribution, not a point."""
    if not digit:
        raise gr.Error("Pick, draw or upload a digit first.")
    model = _model(name)
    x = torch.tensor(digit, dtype=torch.float32).reshape(1, 1, 28, 28)
    mu, logvar = model.encode(x)
    z = model.reparameterize(mu.expand(8, -1), logvar.expand(8, -1))
    return explore.grid(explore.decode_images(model, z), ncols=8, factor=3)


# ============================================================================ interpolate


def random_digit(digit: float, seed: float | None = None):
    images = _need_test_images()
    d = int(_check_range(digit, 0, 9, "digit"))
    idx = torch.nonzero(CTX.mnist().test_labels == d)[:, 0]
    g = torch.Generator().manual_seed(int(seed)) if seed is not None else None
    i = int(idx[torch.randint(len(idx), (1,), generator=g)])
    x = data.to_float(images[i:i + 1])
    return x[0, 0].numpy().tolist(), _img(x, 4), f"test image #{i}, a {d}"


def use_current(digit: list | None, source: str):
    if not digit:
        raise gr.Error("Pick, draw or upload a digit in the Reconstruct tab first.")
    return digit, _img(torch.tensor(digit), 4), source


def interpolate(name: str, a: list | None, b: list | None, steps: float, mode: str):
    if not a or not b:
        raise gr.Error("Choose both ends first (the dice pick a random test digit).")
    model = _model(name)
    n = int(_check_range(steps, 2, 24, "steps"))
    if mode not in ("linear", "spherical"):
        raise gr.Error("mode is linear or spherical")
    x = torch.tensor([a, b], dtype=torch.float32).reshape(2, 1, 28, 28)
    mu, _ = model.encode(x)
    path = explore.interpolate(mu[0], mu[1], n, mode)
    frames = explore.decode_images(model, path)
    strip = explore.grid(frames, ncols=n, factor=3)
    out = Path(tempfile.mkdtemp(prefix="interp-"))
    (out / "interpolation.png").write_bytes(explore.png_bytes(strip))
    big = [explore.upscale(f, 6) for f in explore.to_uint8(frames)]
    (out / "interpolation.gif").write_bytes(explore.gif_bytes(big))
    fig = None
    if CTX.test_images() is not None:
        fig, _ = _map_base(name, "PCA", height=420)
        fig = figures.mark_points(fig, _project(name, path.detach().numpy()), f"{mode} path", line=True)
    return strip, fig, [str(out / "interpolation.png"), str(out / "interpolation.gif")]


# ============================================================================ beta


BETA_TEXT = r"""
**What β does.** The loss is *reconstruction + β × KL*, with both summed per image (this app's
convention; β = 1 is the true ELBO). The KL term pulls every code toward the prior N(0, I).

* **Small β** (0.1): sharp reconstructions, codes spread out; the space between codes is full of
  holes, so random samples are often not digits.
* **Large β** (4, 8): the codes crowd toward the prior; samples are smooth but blurry, and
  dimensions the model can spare *collapse*: their KL falls to zero (grey bars below).

The shipped models are the same network trained at β = 0.1, 0.5, 1, 2, 4 and 8; the slider shows the
nearest one. *Train with this beta* makes a new one at exactly the slider's value.
"""


def _nearest_ladder(beta: float) -> dict:
    ladder = CTX.ladder()
    if not ladder:
        raise gr.Error("No β ladder models were found in checkpoints/.")
    return min(ladder, key=lambda d: (abs(np.log(d["beta"]) - np.log(beta)), not d["shipped"]))


def _rd_points() -> list[dict]:
    images = _need_test_images()[:2000]
    points = []
    for d in CTX.ladder():
        entry = CTX.registry.entry(d["name"])
        if entry.rd is None:
            entry.rd = rate_and_distortion(CTX.registry.model(d["name"]), images)
        points.append({"name": d["name"], "beta": d["beta"], "ladder": d["shipped"], **entry.rd})
    return points


def _fixed_digits() -> torch.Tensor:
    images, labels = _need_test_images(), CTX.mnist().test_labels
    idx = [int(torch.nonzero(labels == d)[0, 0]) for d in range(BETA_DIGITS)]
    return data.to_float(images[idx])


def _model_panels(name: str, digits: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    model = _model(name)
    mu, _ = model.encode(digits)
    recon = explore.decode_images(model, mu)
    g = torch.Generator().manual_seed(0)
    samples = explore.decode_images(model, torch.randn(16, model.latent_dim, generator=g))
    return explore.grid(torch.cat([digits, recon]), ncols=BETA_DIGITS, factor=3), explore.grid(samples, ncols=8, factor=3)


def show_beta(beta: float):
    beta = _check_range(beta, 0.05, 20, "beta")
    pick = _nearest_ladder(beta)
    name = pick["name"]
    if CTX.test_images() is None:
        return f"β = {beta:g}: showing **{name}** (β = {pick['beta']:g}).\n\n{NO_DATA}", None, None, None, None, None
    recon, samples = _model_panels(name, _fixed_digits())
    emb = CTX.registry.embedding(name, CTX.test_images())
    rd = figures.rate_distortion(_rd_points(), name)
    fig, _ = _map_base(name, "PCA", height=380)
    exact = "exactly this β" if abs(pick["beta"] - beta) < 1e-9 else f"the nearest trained β = {pick['beta']:g}"
    head = f"Slider β = {beta:g}: showing **{name}**, {exact}."
    return head, recon, samples, fig, rd, figures.kl_bars(emb.kl_per_dim)


def _train_progress_loop(worker: threading.Thread, updates: queue.Queue, history: list, progress, epochs: int):
    """Yield (status, figure) while the worker trains, one point on the curve per report."""
    while worker.is_alive() or not updates.empty():
        try:
            p = updates.get(timeout=0.5)
        except queue.Empty:
            continue
        history.append({"x": p.epoch - 1 + ((p.step - 1) % p.steps_per_epoch + 1) / p.steps_per_epoch,
                        "loss": p.loss, "reconstruction": p.reconstruction, "kl": p.kl})
        progress(history[-1]["x"] / epochs, desc=f"epoch {p.epoch}/{epochs}")
        yield (f"Training: epoch {p.epoch} of {epochs}, loss {p.loss:.1f} nats "
               f"({p.images_per_second:.0f} images/s)."), figures.loss_curve(history, "Loss while training")


def train_beta(beta: float, epochs: float, images: float, request: gr.Request, progress=gr.Progress()):
    """Retrain at this beta, warm-started from the nearest ladder model; streams status and the loss curve."""
    beta = _check_range(beta, 0.05, 20, "beta")
    epochs = int(_check_range(epochs, 1, MAX_TRAIN_EPOCHS, "epochs"))
    images = int(_check_range(images, 500, 60000, "training images"))
    mnist = CTX.mnist()
    if mnist is None:
        raise gr.Error(NO_DATA.replace("**", "").replace("`", ""))
    session = getattr(request, "session_hash", None) or "anonymous"
    cancel = CTX.cancels.setdefault(session, threading.Event())
    cancel.clear()
    position = CTX.slot.try_enter()
    if position is None:
        raise gr.Error("The trainer is busy with other visitors' runs and its line is full. Try again in a few minutes.")
    if position:
        yield f"Waiting for the trainer: {position} run(s) ahead of yours…", None, gr.skip()
        if not CTX.slot.wait_turn(cancel):
            yield "Cancelled before it started.", None, gr.skip()
            return
    try:
        yield from _run_training(beta, epochs, images, mnist, cancel, progress)
    finally:
        CTX.slot.leave()


def _run_training(beta, epochs, images, mnist, cancel, progress):
    start = _nearest_ladder(beta)
    base = CTX.registry.entry(start["name"])
    name = f"{MAIN_MODEL}-beta{beta:g}-{time.strftime('%H%M%S')}"
    out = CTX.registry.user_dir / name
    cfg = TrainConfig(epochs=epochs, beta=beta, lr=5e-4, val_size=0, train_limit=images)
    updates: queue.Queue = queue.Queue()
    result: dict = {}

    def work():
        try:
            result["r"] = run_training(CTX.registry.model(start["name"]).cfg, cfg, mnist, out=out,
                                       callback=updates.put, cancel=cancel, init_from=base.path,
                                       run_info={"preset": "default", "init_from": base.path,
                                                 "command": f"app: train with beta {beta:g}"})
        except Exception as e:  # a diverged run included: reported, and no model is added
            result["error"] = e
    worker = threading.Thread(target=work, daemon=True, name=f"train-{name}")
    worker.start()
    history: list[dict] = []
    yield f"Training {name} from {start['name']} (β = {start['beta']:g})…", None, gr.skip()
    for status, fig in _train_progress_loop(worker, updates, history, progress, epochs):
        yield status, fig, gr.skip()
    worker.join()
    if "error" in result:
        yield f"Training stopped: {result['error']}. Nothing was added.", None, gr.skip()
        return
    r = result["r"]
    if not r.history:
        yield "Cancelled before the first epoch finished; nothing was saved.", None, gr.skip()
        return
    CTX.registry.add(out)
    names = CTX.registry.names()
    stopped = " (cancelled: kept the finished epochs)" if r.cancelled else ""
    curve = figures.loss_curve(history, "Loss while training") if history else None
    yield (f"Done{stopped}: **{name}** joined the model list after {len(r.history)} epoch(s) "
           f"in {r.seconds:.0f} s on {r.device}."), curve, gr.update(choices=names)


def cancel_training(request: gr.Request):
    session = getattr(request, "session_hash", None) or "anonymous"
    if session in CTX.cancels:
        CTX.cancels[session].set()
    return "Cancelling after the current step…"


def visitor_left(request: gr.Request):
    """A visitor who closes the tab cancels their training run."""
    session = getattr(request, "session_hash", None)
    if session in CTX.cancels:
        CTX.cancels.pop(session).set()


def compare(name_a: str, name_b: str):
    digits = _fixed_digits()
    rows = []
    out = []
    for name in (name_a, name_b):
        recon, samples = _model_panels(name, digits)
        out += [recon, samples]
        e = CTX.registry.entry(name)
        rd = rate_and_distortion(_model(name), _need_test_images()[:2000])
        rows.append(f"| {name} | {e.config.get('beta', 1):g} | {e.config['model']['latent_dim']} | "
                    f"{rd['rate']:.1f} | {rd['distortion']:.1f} |")
    table = ("| model | β | latent | KL (rate) | reconstruction (distortion) |\n|---|---|---|---|---|\n"
             + "\n".join(rows))
    return (*out, table)


# ============================================================================ how it works


HOW_IT_WORKS = r"""
### The idea

A **variational autoencoder** learns to describe each image $x$ with a few numbers $z$ (its *code*)
and to draw images back from codes. It assumes every digit was made by picking $z$ from a simple
*prior* $p(z) = \mathcal{N}(0, I)$ and passing it through a **decoder** $p_\theta(x \mid z)$.

The **encoder** answers the reverse question, *which codes could have made this image?*, with a
distribution rather than a single point: $q_\phi(z \mid x) = \mathcal{N}\big(\mu_\phi(x), \operatorname{diag}\sigma_\phi^2(x)\big)$.
The exact answer $p(z \mid x) = p(x \mid z)\,p(z) / p(x)$ is out of reach because
$p(x) = \int p(x \mid z)\,p(z)\,dz$ has no closed form.

### The objective: the ELBO

$$\log p(x) \;\ge\; \text{ELBO} = \mathbb{E}_{q(z\mid x)}\big[\log p(x \mid z)\big] - \mathrm{KL}\big(q(z \mid x)\,\|\,p(z)\big)$$

and the gap is $\log p(x) - \text{ELBO} = \mathrm{KL}\big(q(z\mid x)\,\|\,p(z \mid x)\big) \ge 0$.
Training minimises $-\text{ELBO}$: a **reconstruction** term (here binary cross-entropy summed over
the 784 pixels, since the decoder gives each pixel a probability of being ink) plus a **KL** term.

### The KL term in closed form

For one dimension, $\mathrm{KL}\big(\mathcal{N}(\mu, \sigma^2)\,\|\,\mathcal{N}(0, 1)\big) = \tfrac12\big(\mu^2 + \sigma^2 - \log \sigma^2 - 1\big)$,
summed over dimensions. It is zero only when $\mu = 0$ and $\sigma = 1$: a dimension that the
model does not use collapses to exactly that (see the grey bars in the β tab).

### The reparameterisation trick

Sampling is not differentiable, so the sample is rewritten as
$z = \mu + \sigma \odot \varepsilon$ with $\varepsilon \sim \mathcal{N}(0, I)$: the randomness sits in
$\varepsilon$ and gradients flow through $\mu$ and $\sigma$. The *Draw ε again* button in the
Reconstruct tab shows exactly this: the same digit, eight draws of $\varepsilon$.

### What β does

The β-VAE loss is reconstruction $+\;\beta \cdot$ KL. β = 1 is the true ELBO. A larger β buys a
smoother, more regular space with blurrier digits; a smaller one sharper digits and a space with holes.
β only means something once the sums are fixed: this app sums both terms per image. (The tutorial
recipe "seed-conv" averages instead, and its weight of 0.1 equals β = 0.8 in this convention.)

### How good is it?

The test **negative log-likelihood** is estimated by importance sampling with $k$ samples,
$\log p(x) \approx \log \frac1k \sum_i \frac{p(x\mid z_i)\,p(z_i)}{q(z_i\mid x)}$ (Burda et al. 2015),
in nats on binarised test digits: lower is better. Published figures: an MLP VAE 86.76, a
two-layer IWAE 82.90. The figures of the shipped models are in the model line at the top.
"""


def how_figures(name: str):
    if not name or CTX.test_images() is None:
        return None, None
    recon, samples = _model_panels(name, _fixed_digits())
    return recon, samples


# ============================================================================ plain API (for scripts)


def _digit_tensor(image) -> torch.Tensor:
    try:
        x = torch.tensor(image, dtype=torch.float32)
    except (TypeError, ValueError):
        raise gr.Error("image must be 28 rows of 28 numbers between 0 and 1") from None
    if x.shape != (28, 28) or not torch.isfinite(x).all() or x.min() < 0 or x.max() > 1:
        raise gr.Error(f"image must be 28 rows of 28 numbers between 0 and 1 (got shape {tuple(x.shape)})")
    return x.reshape(1, 1, 28, 28)


def api_decode(model: str, z: list[float]) -> dict:
    """Decode one latent point: returns {"image": 28x28 values in [0, 1]}."""
    m = _model(model)
    if not isinstance(z, list) or len(z) != m.latent_dim:
        raise gr.Error(f"z must be a list of {m.latent_dim} numbers for {model}")
    values = [_check_range(v, -10, 10, f"z[{i}]") for i, v in enumerate(z)]
    image = explore.decode_images(m, torch.tensor([values]))
    return {"image": image[0, 0].numpy().round(4).tolist()}


def api_encode(model: str, image: list[list[float]]) -> dict:
    """Encode a 28x28 image in [0, 1]: returns mu, sigma and the reconstruction from mu."""
    m = _model(model)
    x = _digit_tensor(image)
    mu, logvar = m.encode(x)
    recon = explore.decode_images(m, mu)
    return {"mu": mu[0].tolist(), "sigma": torch.exp(0.5 * logvar)[0].tolist(),
            "reconstruction": recon[0, 0].numpy().round(4).tolist()}


def api_interpolate(model: str, a: int, b: int, steps: int = 10, mode: str = "linear") -> dict:
    """Interpolate between test images #a and #b: returns the decoded frames and the codes."""
    m = _model(model)
    images = _need_test_images()
    ia, ib = (int(_check_range(i, 0, len(images) - 1, "test image index")) for i in (a, b))
    n = int(_check_range(steps, 2, 24, "steps"))
    if mode not in ("linear", "spherical"):
        raise gr.Error("mode is linear or spherical")
    mu, _ = m.encode(data.to_float(images[[ia, ib]]))
    path = explore.interpolate(mu[0], mu[1], n, mode)
    frames = explore.decode_images(m, path)
    return {"frames": frames[:, 0].numpy().round(4).tolist(), "codes": path.tolist()}


# ============================================================================ layout


CSS = """
#map-click, #map-click-btn { display: none !important; }
.digit img { image-rendering: pixelated; }
.note { font-size: 0.95em; color: var(--body-text-color-subdued); }
footer { display: none !important; }
"""

# Gradio's Plot has no click event: this bridge listens to Plotly's own click on the maps and hands the
# point (its test-image index, or its x, y) to a hidden button, whose click event's `js` hands the
# payload to Python as the value of a hidden textbox.
CLICK_BRIDGE = """
<script>
(() => {
  function bind(plot) {
    if (plot.__vaeBound || typeof plot.on !== 'function') return;
    plot.__vaeBound = true;
    plot.on('plotly_click', (ev) => {
      const p = ev && ev.points && ev.points[0];
      if (!p) return;
      const index = (p.data.type === 'scattergl' || p.data.type === 'scatter') && p.customdata !== undefined
        ? Number(p.customdata) : null;
      window.__vaeClick = JSON.stringify({index: index, x: Number(p.x), y: Number(p.y), t: Date.now()});
      const button = document.querySelector('#map-click-btn');
      if (button) button.click();
    });
  }
  const scan = () => document.querySelectorAll('#latent-map .js-plotly-plot').forEach(bind);
  new MutationObserver(scan).observe(document.documentElement, {childList: true, subtree: true});
  setInterval(scan, 1000);
})();
</script>
"""


def build_demo() -> gr.Blocks:
    with gr.Blocks(title="VAE latent space explorer") as demo:
        gr.Markdown("# What does a VAE learn? Explore its latent space\n"
                    "A variational autoencoder squeezed 60,000 handwritten digits into a handful of numbers "
                    "each. Drag those numbers, draw your own digit, walk between two digits, and see what "
                    "the KL weight β does.")
        with gr.Row():
            model_dd = gr.Dropdown(label="Model", choices=CTX.registry.names(), value=CTX.default_model(),
                                   scale=1, min_width=220)
            summary = gr.Markdown(model_summary(CTX.default_model()), elem_classes="note")

        with gr.Tab("Latent map", id="map"):
            with gr.Row():
                projection = gr.Radio(["PCA", "UMAP"], value="PCA", label="Map", scale=1)
                manifold = gr.Checkbox(label="Show decoded digits under a 2-D map", value=True, scale=1)
            map_status = gr.Markdown(elem_classes="note")
            with gr.Row():
                with gr.Column(scale=3):
                    map_plot = gr.Plot(elem_id="latent-map", show_label=False)
                    map_note = gr.Markdown(elem_classes="note")
                with gr.Column(scale=1, min_width=220):
                    gr.Markdown("**Clicked point**")
                    click_input = gr.Image(label="test digit", elem_classes="digit", height=180, interactive=False)
                    click_recon = gr.Image(label="decoded", elem_classes="digit", height=180, interactive=False)
                    click_text = gr.Markdown("Click a dot on the map.")
            click_box = gr.Textbox(elem_id="map-click", show_label=False, container=False)
            click_btn = gr.Button(elem_id="map-click-btn", elem_classes="hidden-bridge")
            umap_shown = gr.State("")
            umap_timer = gr.Timer(2.0)

        with gr.Tab("Generate", id="generate"):
            gen_info = gr.Markdown(elem_classes="note")
            z_state, dims_state = gr.State([]), gr.State([])
            with gr.Row():
                with gr.Column(scale=2):
                    sliders = [gr.Slider(-SLIDER_RANGE, SLIDER_RANGE, value=0.0, step=0.01, label=f"z{i + 1}",
                                         visible=i < 2) for i in range(MAX_SLIDERS)]
                    with gr.Row():
                        temperature = gr.Slider(0.0, 2.0, value=1.0, step=0.05, label="temperature",
                                                info="scales random draws: 0 is the centre, 1 the prior")
                    with gr.Row():
                        random_btn = gr.Button("Random sample", variant="primary")
                        reset_btn = gr.Button("Reset to the centre")
                        grid_btn = gr.Button("Grid of 36 samples")
                with gr.Column(scale=1, min_width=240):
                    gen_image = gr.Image(label="decoded digit", elem_classes="digit", height=260, interactive=False)
            with gr.Row():
                gen_grid = gr.Image(label="samples from the prior", elem_classes="digit", interactive=False)
                gen_map_plot = gr.Plot(label="current point on the PCA map (updated when you let go)")

        with gr.Tab("Reconstruct", id="reconstruct"):
            digit_state, source_state = gr.State(None), gr.State("")
            with gr.Row():
                with gr.Column(scale=1):
                    with gr.Tab("Test digits"):
                        gallery = gr.Gallery(label="click a digit", columns=6, height=300, allow_preview=False)
                    with gr.Tab("Draw"):
                        sketch = gr.Sketchpad(label="draw a digit, large and centred", height=300,
                                              canvas_size=(280, 280), type="numpy", image_mode="RGBA")
                        sketch_btn = gr.Button("Encode my drawing", variant="primary")
                    with gr.Tab("Upload"):
                        upload = gr.File(label="a picture of one digit (PNG, JPEG…)", file_types=["image"],
                                         type="filepath")
                with gr.Column(scale=1):
                    with gr.Row():
                        seen = gr.Image(label="as the model sees it", elem_classes="digit", height=200, interactive=False)
                        recon = gr.Image(label="reconstruction", elem_classes="digit", height=200, interactive=False)
                    recon_text = gr.Markdown("Pick a digit from the gallery, draw one, or upload a picture.")
                    eps_btn = gr.Button("Draw ε again (8 samples of z = μ + σ·ε)")
                    eps_grid = gr.Image(label="decoded samples of q(z|x)", elem_classes="digit", interactive=False)
            with gr.Row():
                bars = gr.Plot(show_label=False)
                place = gr.Plot(show_label=False)

        with gr.Tab("Interpolate", id="interpolate"):
            a_state, b_state = gr.State(None), gr.State(None)
            with gr.Row():
                for end in ("A", "B"):
                    with gr.Column(min_width=200):
                        gr.Markdown(f"**Digit {end}**")
                        dd = gr.Dropdown([str(d) for d in range(10)], value="3" if end == "A" else "8",
                                         label="a random test digit of class")
                        btn = gr.Button(f"Pick {end}")
                        cur = gr.Button("Use the Reconstruct tab's digit", size="sm")
                        im = gr.Image(label=f"{end}", elem_classes="digit", height=130, interactive=False)
                        desc = gr.Markdown()
                        if end == "A":
                            a_dd, a_btn, a_cur, a_img, a_desc = dd, btn, cur, im, desc
                        else:
                            b_dd, b_btn, b_cur, b_img, b_desc = dd, btn, cur, im, desc
                with gr.Column(min_width=200):
                    steps = gr.Slider(2, 24, value=10, step=1, label="steps")
                    mode = gr.Radio(["linear", "spherical"], value="linear", label="path",
                                    info="spherical keeps codes at a typical distance from the centre")
                    interp_btn = gr.Button("Interpolate", variant="primary")
            strip = gr.Image(label="decoded steps from A to B", elem_classes="digit", interactive=False)
            with gr.Row():
                path_plot = gr.Plot(show_label=False)
                downloads = gr.File(label="download the strip (PNG) and an animation (GIF)", file_count="multiple")

        with gr.Tab("KL weight β", id="beta"):
            with gr.Row():
                with gr.Column(scale=1, min_width=260):
                    beta = gr.Slider(0.1, 8.0, value=1.0, step=0.1, label="β (KL weight)")
                    beta_head = gr.Markdown()
                    gr.Markdown(BETA_TEXT, elem_classes="note")
                with gr.Column(scale=2):
                    beta_recon = gr.Image(label="8 test digits (top) and their reconstructions (bottom)",
                                          elem_classes="digit", interactive=False)
                    beta_samples = gr.Image(label="16 samples from the prior (same random codes for every β)",
                                            elem_classes="digit", interactive=False)
            with gr.Row():
                rd_plot = gr.Plot(show_label=False)
                kl_plot = gr.Plot(show_label=False)
            beta_map = gr.Plot(show_label=False)
            with gr.Accordion("Train with this β", open=False):
                gr.Markdown("Fine-tunes the nearest shipped model at the slider's β for a few epochs "
                            "(about 30 s an epoch on a laptop CPU, seconds on a GPU). One run at a time "
                            "for everyone; closing the tab cancels yours.", elem_classes="note")
                with gr.Row():
                    train_epochs = gr.Slider(1, MAX_TRAIN_EPOCHS, value=3, step=1, label="epochs")
                    train_images = gr.Slider(500, 60000, value=60000, step=500, label="training images")
                with gr.Row():
                    train_btn = gr.Button("Train with this β", variant="primary")
                    cancel_btn = gr.Button("Cancel", variant="stop")
                train_status = gr.Markdown()
                train_plot = gr.Plot(show_label=False)
            with gr.Accordion("Compare two models on the same digits", open=False):
                with gr.Row():
                    cmp_a = gr.Dropdown(choices=CTX.registry.names(), value=CTX.default_model(), label="model A")
                    cmp_b = gr.Dropdown(choices=CTX.registry.names(), label="model B")
                    cmp_btn = gr.Button("Compare")
                cmp_table = gr.Markdown()
                with gr.Row():
                    cmp_ra = gr.Image(label="A: digits and reconstructions", elem_classes="digit", interactive=False)
                    cmp_rb = gr.Image(label="B: digits and reconstructions", elem_classes="digit", interactive=False)
                with gr.Row():
                    cmp_sa = gr.Image(label="A: samples", elem_classes="digit", interactive=False)
                    cmp_sb = gr.Image(label="B: samples", elem_classes="digit", interactive=False)

        with gr.Tab("How it works", id="how"):
            gr.Markdown(HOW_IT_WORKS, latex_delimiters=[{"left": "$$", "right": "$$", "display": True},
                                                        {"left": "$", "right": "$", "display": False}])
            with gr.Row():
                how_recon = gr.Image(label="encoder then decoder: test digits (top), reconstructions (bottom)",
                                     elem_classes="digit", interactive=False)
                how_samples = gr.Image(label="decoder alone: codes drawn from the prior N(0, I)",
                                       elem_classes="digit", interactive=False)

        # ------------------------------------------------------------------ wiring
        map_outputs = [map_plot, map_note, map_status]
        gen_outputs = [z_state, dims_state, gen_info, *sliders, gen_image]

        def on_model(name):
            choices = _projection_choices(name) if name else ["PCA"]
            return model_summary(name), gr.update(choices=choices, value=choices[0])

        model_dd.change(on_model, model_dd, [summary, projection], api_name=False).then(
            show_map, [model_dd, projection, manifold], map_outputs, api_name=False).then(
            gen_setup, model_dd, gen_outputs, api_name=False).then(
            gen_map, [model_dd, z_state], gen_map_plot, api_name=False)
        projection.input(show_map, [model_dd, projection, manifold], map_outputs, api_name="latent_map")
        manifold.input(show_map, [model_dd, projection, manifold], map_outputs, api_name=False)
        umap_timer.tick(poll_umap, [model_dd, projection, manifold, umap_shown],
                        [map_plot, map_status, umap_shown], api_name=False, show_progress="hidden")
        click_btn.click(map_click, [model_dd, click_box], [click_input, click_recon, click_text],
                        api_name="map_click", show_progress="hidden", trigger_mode="always_last",
                        js="(name, payload) => [name, window.__vaeClick || payload]")

        for s in sliders:
            s.input(decode_point, [model_dd, z_state, dims_state, *sliders], [gen_image, z_state],
                    api_name=False, show_progress="hidden", trigger_mode="always_last")
            s.release(gen_map, [model_dd, z_state], gen_map_plot, api_name=False, show_progress="hidden")
        random_btn.click(random_point, [model_dd, dims_state, temperature], [z_state, gen_image, *sliders],
                         api_name="random_sample").then(gen_map, [model_dd, z_state], gen_map_plot, api_name=False)
        reset_btn.click(reset_point, [model_dd, dims_state], [z_state, gen_image, *sliders], api_name=False).then(
            gen_map, [model_dd, z_state], gen_map_plot, api_name=False)
        grid_btn.click(sample_grid, [model_dd, temperature], gen_grid, api_name="sample_grid")

        recon_outputs = [seen, recon, bars, place, recon_text]
        picked = [digit_state, source_state, *recon_outputs]
        gallery.select(pick_gallery, model_dd, picked, api_name=False)
        sketch_btn.click(pick_sketch, [model_dd, sketch], picked, api_name="encode_sketch")
        upload.upload(pick_upload, [model_dd, upload], picked, api_name="encode_upload")
        model_dd.change(reconstruct, [model_dd, digit_state, source_state], recon_outputs, api_name=False)
        eps_btn.click(resample, [model_dd, digit_state], eps_grid, api_name="resample")

        a_btn.click(random_digit, a_dd, [a_state, a_img, a_desc], api_name="random_digit")
        b_btn.click(random_digit, b_dd, [b_state, b_img, b_desc], api_name="random_digit_b")
        a_cur.click(use_current, [digit_state, source_state], [a_state, a_img, a_desc], api_name=False)
        b_cur.click(use_current, [digit_state, source_state], [b_state, b_img, b_desc], api_name=False)
        interp_btn.click(interpolate, [model_dd, a_state, b_state, steps, mode], [strip, path_plot, downloads],
                         api_name="interpolate")

        beta_outputs = [beta_head, beta_recon, beta_samples, beta_map, rd_plot, kl_plot]
        beta.release(show_beta, beta, beta_outputs, api_name="show_beta")
        train_evt = train_btn.click(train_beta, [beta, train_epochs, train_images], [train_status, train_plot, model_dd],
                                    api_name="train", concurrency_limit=3)
        train_evt.then(lambda: [gr.update(choices=CTX.registry.names())] * 2, None, [cmp_a, cmp_b], api_name=False)
        cancel_btn.click(cancel_training, None, train_status, api_name="cancel_training")
        cmp_btn.click(compare, [cmp_a, cmp_b], [cmp_ra, cmp_sa, cmp_rb, cmp_sb, cmp_table], api_name="compare")

        def on_load(name):
            names = CTX.registry.names()
            return gr.update(choices=names, value=name if name in names else CTX.default_model()), gallery_items()

        demo.load(on_load, model_dd, [model_dd, gallery], api_name=False).then(
            show_map, [model_dd, projection, manifold], map_outputs, api_name=False).then(
            gen_setup, model_dd, gen_outputs, api_name=False).then(
            show_beta, beta, beta_outputs, api_name=False).then(
            how_figures, model_dd, [how_recon, how_samples], api_name=False)
        demo.unload(visitor_left)
        gr.api(api_decode, api_name="decode")
        gr.api(api_encode, api_name="encode")
        gr.api(api_interpolate, api_name="interpolate_codes")
    return demo


demo = build_demo()


# ============================================================================ launch


def warm_up(name: str | None) -> None:
    """Background start-up work: load the default model and embed the test set, so first clicks are quick."""
    if name is None or CTX.test_images() is None:
        return
    try:
        CTX.registry.embedding(name, CTX.test_images())
        for d in CTX.ladder():
            CTX.registry.embedding(d["name"], CTX.test_images())
    except Exception as e:  # start-up must never fail on a bad model; the views say what is wrong
        print(f"warm-up: {e}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="VAE latent space explorer")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                        help="address to bind (default 127.0.0.1; Spaces sets GRADIO_SERVER_NAME)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    parser.add_argument("--share", action="store_true", help="also serve through a public Gradio link")
    parser.add_argument("--data-dir", default=None, help="folder with the MNIST files (else $VAE_DATA_DIR, else ./data)")
    args = parser.parse_args(argv)
    CTX.data_dir = args.data_dir
    threading.Thread(target=warm_up, args=(CTX.default_model(),), daemon=True, name="warm-up").start()
    demo.queue(default_concurrency_limit=8, max_size=64).launch(
        server_name=args.host, server_port=args.port, share=args.share, max_file_size="20mb",
        css=CSS, head=CLICK_BRIDGE, footer_links=["api"])


if __name__ == "__main__":
    main()
