"""The app's event handlers: each turns widget values into a call to vae_core and back into widgets.

Bad input raises gr.Error with a message for the visitor, and changes nothing.
"""

from __future__ import annotations

import json
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
from vae_core.evaluate import ACTIVE_UNIT_THRESHOLD, rate_and_distortion
from vae_core.model import VAE
from vae_core.train import train as run_training

from .state import CTX, MAIN_MODEL
from .texts import MAP_NOTE_2D, MAP_NOTE_ND, NO_DATA

MAX_SLIDERS = 8
SLIDER_RANGE = 3.0  # +-3 sigma of the prior: beyond it the decoder has seen almost nothing
GALLERY_SIZE = 24
BETA_DIGITS = 8  # test digits shown for every beta, always the same ones
MAX_TRAIN_EPOCHS = 10


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


def _digit_tensor(image) -> torch.Tensor:
    """A digit from the page or the API (28 rows of 28 values in [0, 1]) as a (1, 1, 28, 28) tensor."""
    try:
        x = torch.tensor(image, dtype=torch.float32)
    except (TypeError, ValueError):
        raise gr.Error("image must be 28 rows of 28 numbers between 0 and 1") from None
    if x.shape != (28, 28) or not torch.isfinite(x).all() or x.min() < 0 or x.max() > 1:
        raise gr.Error(f"image must be 28 rows of 28 numbers between 0 and 1 (got shape {tuple(x.shape)})")
    return x.reshape(1, 1, 28, 28)


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


def _map_base(name: str, projection: str, manifold: bool = False, height: int | None = None):
    """The latent map of the test set for a model, as a figure, and the coordinates used.

    A 2-D model's plane is square, so its map is taller by default than a projection's.
    """
    model = _model(name)
    images = _need_test_images()
    emb = CTX.registry.embedding(name, images)
    labels = CTX.mnist().test_labels.numpy()
    if model.latent_dim == 2:
        height = height or 700
        extent = plane_extent(emb.mu)
        bg = explore.manifold(model, n=23, extent=extent) if manifold else None
        fig = figures.latent_map(emb.mu, labels, f"{name}: the 2-D latent space itself (posterior means)",
                                 "z1", "z2", background=bg, clickable_extent=extent, height=height)
        return fig, emb.mu
    height = height or 560
    if projection == "UMAP" and emb.umap is not None:
        fig = figures.latent_map(emb.umap, labels, f"{name}: UMAP of the {model.latent_dim}-D codes",
                                 "UMAP 1", "UMAP 2", height=height)
        return fig, emb.umap
    r = emb.pca_ratio
    fig = figures.latent_map(emb.pca, labels, f"{name}: PCA of the {model.latent_dim}-D codes",
                             f"PC1 ({r[0]:.0%} of variance)", f"PC2 ({r[1]:.0%})", height=height)
    return fig, emb.pca


def plane_extent(mu: np.ndarray) -> float:
    """Half-width of a 2-D map: the prior's +-3 at least, widened in halves to hold 99.9% of the codes."""
    return float(min(6.0, max(3.0, np.ceil(2 * np.quantile(np.abs(mu), 0.999)) / 2)))


def _project(name: str, z: np.ndarray) -> np.ndarray:
    """Codes -> the 2-D plane of the PCA map (or the space itself for a 2-D model)."""
    emb = CTX.registry.embedding(name, _need_test_images())
    z = np.atleast_2d(z)
    if z.shape[1] == 2:
        return z
    return (z - emb.pca_mean) @ emb.pca_components.T


def projection_choices(name: str) -> list[str]:
    model = _model(name)
    return ["2-D latent"] if model.latent_dim == 2 else ["PCA", "UMAP"]

# ----------------------------------------------------------------------------- latent map


def show_map(name: str, projection: str, manifold: bool):
    if CTX.test_images() is None:
        return None, NO_DATA, ""
    model = _model(name)
    choices = projection_choices(name)
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


@torch.no_grad()
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
        return gr.update(value=_img(x), visible=True), gr.update(value=_img(recon), visible=True), text
    if model.latent_dim != 2:
        return gr.skip(), gr.skip(), "Click a dot: on a projected map, empty space has no single code."
    zx = _check_range(click.get("x"), -10, 10, "x")
    zy = _check_range(click.get("y"), -10, 10, "y")
    image = explore.decode_images(model, torch.tensor([[zx, zy]]))
    # No test digit belongs to an empty spot: hide its frame rather than show an empty one.
    return (gr.update(value=None, visible=False), gr.update(value=_img(image), visible=True),
            f"**Decoded z = ({zx:.2f}, {zy:.2f})**: no test digit needed; this is what the decoder draws there.")


# ----------------------------------------------------------------------------- generate


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
    return [z, dims, info, *sliders, _img(explore.decode_images(model, torch.zeros(1, model.latent_dim)))]


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


# ----------------------------------------------------------------------------- reconstruct


def _gallery_indices(images: torch.Tensor) -> list[int]:
    """The test images the gallery shows: a fixed random choice, the same for every visitor."""
    g = torch.Generator().manual_seed(7)
    return torch.randperm(len(images), generator=g)[:GALLERY_SIZE].tolist()


def _test_digit(images: torch.Tensor, i: int) -> list:
    """Test image #i as a 28x28 list in [0, 1], the form of the visitor's current digit."""
    return data.to_float(images[i:i + 1])[0, 0].numpy().tolist()


def gallery_items():
    images = CTX.test_images()
    if images is None:
        return []
    labels = CTX.mnist().test_labels
    return [(_img(data.to_float(images[i:i + 1]), 3), f"#{i}: a {int(labels[i])}") for i in _gallery_indices(images)]


def pick_gallery(name: str, evt: gr.SelectData):
    images = _need_test_images()
    i = _gallery_indices(images)[evt.index]
    return _picked(name, _test_digit(images, i), f"test image #{i}")


def _picked(name: str, digit: list, source: str) -> tuple:
    """A newly chosen digit: it becomes the visitor's current digit and is reconstructed at once."""
    return (digit, source, *reconstruct(name, digit, source))


def first_digit(name: str):
    """On page load: the gallery's first digit, so the Reconstruct view opens with an example."""
    images = CTX.test_images()
    if images is None:
        return (gr.skip(),) * 8
    i = _gallery_indices(images)[0]
    return _picked(name, _test_digit(images, i), f"test image #{i}")


def pick_sketch(name: str, sketch):
    composite = sketch.get("composite") if isinstance(sketch, dict) else sketch
    if composite is None:
        raise gr.Error("Draw a digit on the sketchpad first.")
    try:
        digit = explore.prepare_user_image(composite).tolist()
    except ValueError as e:
        raise gr.Error(str(e)) from None
    return _picked(name, digit, "your drawing")


def pick_upload(name: str, file):
    if file is None:
        return (gr.skip(),) * 8
    path = file if isinstance(file, str) else getattr(file, "name", None)
    try:
        digit = explore.prepare_user_image(explore.load_image_file(path)).tolist()
    except ValueError as e:
        raise gr.Error(str(e)) from None
    return _picked(name, digit, "your upload")


@torch.no_grad()
def reconstruct(name: str, digit: list | None, source: str):
    """The current digit through the model: what it sees, its code, the reconstruction, its place."""
    if not digit:
        return None, None, None, None, "Pick a digit from the gallery, draw one, or upload a picture.", None
    model = _model(name)
    x = _digit_tensor(digit)
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
    return _img(x), _img(recon), bars, place, text, _posterior_samples(model, mu, logvar)


def _posterior_samples(model: VAE, mu: torch.Tensor, logvar: torch.Tensor) -> np.ndarray:
    """Eight draws z = mu + sigma * eps, decoded: the encoder gives a distribution, not a point."""
    z = model.reparameterize(mu.expand(8, -1), logvar.expand(8, -1))
    return explore.grid(explore.decode_images(model, z), ncols=4, factor=3)


@torch.no_grad()
def resample(name: str, digit: list | None):
    """Draw eps again for the current digit."""
    if not digit:
        raise gr.Error("Pick, draw or upload a digit first.")
    model = _model(name)
    mu, logvar = model.encode(_digit_tensor(digit))
    return _posterior_samples(model, mu, logvar)


# ----------------------------------------------------------------------------- interpolate


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


@torch.no_grad()
def _interpolation(model: VAE, ends: torch.Tensor, steps: float, mode: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The codes from the first end's mean to the second's, and their decoded images."""
    n = int(_check_range(steps, 2, 24, "steps"))
    if mode not in ("linear", "spherical"):
        raise gr.Error("mode is linear or spherical")
    mu, _ = model.encode(ends)
    path = explore.interpolate(mu[0], mu[1], n, mode)
    return path, explore.decode_images(model, path)


@torch.no_grad()
def interpolate(name: str, a: list | None, b: list | None, steps: float, mode: str):
    if not a or not b:
        raise gr.Error("Choose both ends first (the dice pick a random test digit).")
    model = _model(name)
    path, frames = _interpolation(model, torch.cat([_digit_tensor(a), _digit_tensor(b)]), steps, mode)
    strip = explore.grid(frames, ncols=len(frames), factor=3)
    out = Path(tempfile.mkdtemp(prefix="interp-"))
    (out / "interpolation.png").write_bytes(explore.png_bytes(strip))
    big = [explore.upscale(f, 6) for f in explore.to_uint8(frames)]
    (out / "interpolation.gif").write_bytes(explore.gif_bytes(big))
    fig = None
    if CTX.test_images() is not None:
        fig, _ = _map_base(name, "PCA", height=420)
        fig = figures.mark_points(fig, _project(name, path.detach().numpy()), f"{mode} path", line=True)
    return strip, fig, [str(out / "interpolation.png"), str(out / "interpolation.gif")]


# ----------------------------------------------------------------------------- beta


def _nearest_ladder(beta: float) -> dict:
    ladder = CTX.ladder()
    if not ladder:
        raise gr.Error("No β ladder models were found in checkpoints/.")
    return min(ladder, key=lambda d: (abs(np.log(d["beta"]) - np.log(beta)), not d["shipped"]))


def _rd(name: str) -> dict:
    """A model's rate and distortion on the first 2,000 test digits, computed once."""
    entry = CTX.registry.entry(name)
    if entry.rd is None:
        entry.rd = rate_and_distortion(_model(name), _need_test_images()[:2000])
    return entry.rd


def rd_points() -> list[dict]:
    return [{"name": d["name"], "beta": d["beta"], "ladder": d["shipped"], **_rd(d["name"])} for d in CTX.ladder()]


def _fixed_digits() -> torch.Tensor:
    images, labels = _need_test_images(), CTX.mnist().test_labels
    idx = [int(torch.nonzero(labels == d)[0, 0]) for d in range(BETA_DIGITS)]
    return data.to_float(images[idx])


@torch.no_grad()
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
    rd = figures.rate_distortion(rd_points(), name)
    fig, _ = _map_base(name, "PCA", height=380)
    exact = "exactly this β" if abs(pick["beta"] - beta) < 1e-9 else f"the nearest trained β = {pick['beta']:g}"
    head = f"Slider β = {beta:g}: showing **{name}**, {exact}."
    return head, recon, samples, fig, rd, _kl_figure(name, emb)


def _kl_figure(name: str, emb: explore.Embedding):
    """KL bars from the model's own test figures where it has them, so the count matches its card."""
    test = CTX.registry.entry(name).metrics.get("test", {})
    if "kl_per_dim" in test and "mu_variance_per_dim" in test:
        variance = np.asarray(test["mu_variance_per_dim"])
        return figures.kl_bars(np.asarray(test["kl_per_dim"]), variance > ACTIVE_UNIT_THRESHOLD)
    return figures.kl_bars(emb.kl_per_dim, emb.mu.var(0) > ACTIVE_UNIT_THRESHOLD)


def _train_progress_loop(worker: threading.Thread, updates: queue.Queue, history: list, progress, epochs: int):
    """Yield (status, figure) while the worker trains: a point on the curve at most once a second."""
    last = 0.0
    while worker.is_alive() or not updates.empty():
        try:
            p = updates.get(timeout=0.5)
        except queue.Empty:
            continue
        if p.kind == "step" and time.monotonic() - last < 1.0:
            continue  # a report every step would flood the page with figures
        last = time.monotonic()
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
    names = CTX.model_choices()
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
        rd = _rd(name)
        rows.append(f"| {name} | {e.config.get('beta', 1):g} | {e.config['model']['latent_dim']} | "
                    f"{rd['rate']:.1f} | {rd['distortion']:.1f} |")
    table = ("| model | β | latent | KL (rate) | reconstruction (distortion) |\n|---|---|---|---|---|\n"
             + "\n".join(rows))
    return (*out, table)


# ----------------------------------------------------------------------------- how it works


def how_figures(name: str):
    if not name or CTX.test_images() is None:
        return None, None
    recon, samples = _model_panels(name, _fixed_digits())
    return recon, samples


# ----------------------------------------------------------------------------- plain API (for scripts)


@torch.no_grad()
def api_decode(model: str, z: list[float]) -> dict:
    """Decode one latent point: returns {"image": 28x28 values in [0, 1]}."""
    m = _model(model)
    if not isinstance(z, list) or len(z) != m.latent_dim:
        raise gr.Error(f"z must be a list of {m.latent_dim} numbers for {model}")
    values = [_check_range(v, -10, 10, f"z[{i}]") for i, v in enumerate(z)]
    image = explore.decode_images(m, torch.tensor([values]))
    return {"image": image[0, 0].numpy().round(4).tolist()}


@torch.no_grad()
def api_encode(model: str, image: list[list[float]]) -> dict:
    """Encode a 28x28 image in [0, 1]: returns mu, sigma and the reconstruction from mu."""
    m = _model(model)
    x = _digit_tensor(image)
    mu, logvar = m.encode(x)
    recon = explore.decode_images(m, mu)
    return {"mu": mu[0].tolist(), "sigma": torch.exp(0.5 * logvar)[0].tolist(),
            "reconstruction": recon[0, 0].numpy().round(4).tolist()}


@torch.no_grad()
def api_interpolate(model: str, a: int, b: int, steps: int = 10, mode: str = "linear") -> dict:
    """Interpolate between test images #a and #b: returns the decoded frames and the codes."""
    m = _model(model)
    images = _need_test_images()
    ia, ib = (int(_check_range(i, 0, len(images) - 1, "test image index")) for i in (a, b))
    path, frames = _interpolation(m, data.to_float(images[[ia, ib]]), steps, mode)
    return {"frames": frames[:, 0].numpy().round(4).tolist(), "codes": path.tolist()}


