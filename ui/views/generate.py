"""Generate: drag latent sliders and watch the decoded digit change while you drag; draw samples."""

from __future__ import annotations

import gradio as gr
import numpy as np
import torch

from vae_core import data, images, latent

from ..common import Limit, get_model, marked_map, picture
from ..page import on_phone_show
from ..state import CTX

TITLE, ID = "Generate", "generate"
MAX_SLIDERS = 8
Z = Limit(-3.0, 3.0, 0.0, 0.01)  # +-3 sigma of the prior: beyond it the decoder has seen almost nothing
TEMPERATURE = Limit(0.0, 2.0, 1.0, 0.05)
START_DIGIT = 2  # the view opens on the code of the first test digit of this class: a real digit, not a blob
GRID_SIDE = 6  # the sample grid is GRID_SIDE x GRID_SIDE
MAP_HEIGHT = 380


def render(page) -> None:
    info = gr.Markdown(elem_classes="note")
    z_state, dims_state = gr.State([]), gr.State([])
    with gr.Row():
        # The digit comes first, so that on a phone it stays above the sliders that move it.
        with gr.Column(scale=1, min_width=240):
            image = gr.Image(label="decoded digit", elem_classes="digit", height=260, interactive=False)
        with gr.Column(scale=2):
            sliders = [Z.slider(f"z{i + 1}", visible=i < 2) for i in range(MAX_SLIDERS)]
            with gr.Row(elem_id="generate-temperature"):
                # "temperature" and "prior" are in How it works' glossary; here the words say what they do.
                temperature = TEMPERATURE.slider("how far random codes stray from the middle",
                                                 info="0: always the middle; 1: as far as real digits' codes do")
            with gr.Row(elem_id="generate-buttons"):
                random_btn = gr.Button("A random digit", variant="primary")
                reset_btn = gr.Button("Back to the middle")
                grid_btn = gr.Button(f"{GRID_SIDE ** 2} random digits")
    with gr.Row():
        sample_grid_image = gr.Image(label=f"{GRID_SIDE ** 2} new digits, drawn from random codes",
                                     elem_classes="digit", interactive=False, elem_id="sample-grid")
        map_plot = gr.Plot(label="where this code sits on the map (updated when you let go)")
    page.worded((image, "label", "decoded digit"), (temperature, "info", temperature.info),
                (sample_grid_image, "label", sample_grid_image.label), (grid_btn, "value", grid_btn.value),
                (random_btn, "value", random_btn.value))

    point = [page.model, z_state]
    # A new model in three requests, so that the sliders and their digit come first, then the map, then the
    # samples. Three handlers, not one generator yielding in stages: Gradio sends a generator's later
    # values as differences from its earlier ones, and a chart that first came as "no change" was now and
    # then left empty or stale on the page (1 page load in 5 here).
    page.on_show(setup, [page.current], [z_state, dims_state, info, *sliders, image])
    page.on_show(start_on_map, [page.current], [map_plot])
    page.on_show(sample_grid, [page.current, temperature], [sample_grid_image])
    for i, s in enumerate(sliders):
        # The first slider's event is callable by scripts (undocumented): benchmarks/load.py drives it.
        s.input(decode_point, [page.model, z_state, dims_state, *sliders], [image, z_state],
                api_name="move_slider" if i == 0 else False, api_visibility="undocumented" if i == 0 else "private",
                show_progress="hidden", trigger_mode="always_last")
        s.release(point_on_map, point, map_plot, api_name=False, show_progress="hidden")
    random_btn.click(random_point, [page.model, dims_state, temperature], [z_state, image, *sliders],
                     api_name="random_sample").then(point_on_map, point, map_plot, api_name=False)
    reset_btn.click(reset_point, [page.model, dims_state], [z_state, image, *sliders], api_name=False).then(
        point_on_map, point, map_plot, api_name=False)
    grid_btn.click(sample_grid, [page.model, temperature], sample_grid_image, api_name="sample_grid").then(
        None, js=on_phone_show("#sample-grid"), api_name=False)  # on a phone the grid is below the buttons


def setup(name: str):
    """A new model: pick which dimensions the sliders drive, reset the point to the origin."""
    model = get_model(name)
    if model.latent_dim == 2:
        dims = [0, 1]
        info = (f"This model describes a digit with just two numbers: the two sliders span all it can draw. "
                f"They start at the code of {_start_words(name)}.")
    elif CTX.test_images(name) is not None:
        dims = latent.informative_dims(CTX.registry.embedding(name, CTX.test_images(name)).kl_per_dim, MAX_SLIDERS)
        info = (f"This model describes a digit with {model.latent_dim} numbers. The {len(dims)} sliders move the "
                f"{len(dims)} it uses most; the rest stay as they are. They start at the code of {_start_words(name)}.")
    else:
        dims = list(range(min(MAX_SLIDERS, model.latent_dim)))
        info = f"The sliders drive dimensions 1 to {len(dims)}; the others stay at the current point."
    z = _start_code(name, model)
    sliders = [gr.update(visible=i < len(dims), value=round(float(z[0, dims[i]]), 2) if i < len(dims) else 0,
                         label=f"number {dims[i] + 1} of {model.latent_dim}" if i < len(dims) else "")
               for i in range(MAX_SLIDERS)]
    return [z[0].tolist(), dims, CTX.kind(name).say(info), *sliders, picture(latent.decode_images(model, z))]


def _start_words(name: str) -> str:
    """The test image the sliders start at, in words: 'a real 5', 'a real trouser'."""
    kind = CTX.kind(name)
    return f"a real {kind.plain(START_DIGIT)}"


@torch.no_grad()
def _start_code(name: str, model) -> torch.Tensor:
    """The code of a real test digit (within the sliders' range), or the centre without test digits."""
    labels = CTX.test_labels(name)
    if labels is None:
        return torch.zeros(1, model.latent_dim)
    hits = torch.nonzero(labels == START_DIGIT)[:, 0]
    i = int(hits[0]) if len(hits) else 0
    mu, _ = model.encode(data.to_float(CTX.test_images(name)[i:i + 1]))
    return mu.clamp(Z.lo, Z.hi)


def decode_point(name: str, z: list[float], dims: list[int], *values):
    """Slider moved: set those dimensions of the current point and decode it."""
    model = get_model(name)
    z = list(z or [0.0] * model.latent_dim)
    if len(z) != model.latent_dim:
        z = [0.0] * model.latent_dim
    for d, v in zip(dims or [], values):
        z[d] = Z.check(v, f"z{d + 1}")
    return picture(latent.decode_images(model, torch.tensor([z]))), z


def _set_point(model, z: torch.Tensor, dims: list[int]):
    """The new point, its digit, and the sliders moved to it (those not in use left alone); a slider's number
    on its step (0.01: a random one showed "-1.301"), and the point with it, so digit and sliders agree."""
    for d in dims:
        z[0, d] = round(float(z[0, d]), 2)
    values = [gr.update(value=round(float(z[0, d]), 2)) for d in dims]
    return [z[0].tolist(), picture(latent.decode_images(model, z)), *values,
            *[gr.skip()] * (MAX_SLIDERS - len(dims))]


def random_point(name: str, dims: list[int], temperature: float):
    model = get_model(name)
    t = TEMPERATURE.check(temperature, "temperature")
    z = (torch.randn(1, model.latent_dim) * t).clamp(Z.lo, Z.hi)
    return _set_point(model, z, dims or [])


def reset_point(name: str, dims: list[int]):
    model = get_model(name)
    return _set_point(model, torch.zeros(1, model.latent_dim), dims or [])


def sample_grid(name: str, temperature: float):
    model = get_model(name)
    t = TEMPERATURE.check(temperature, "temperature")
    z = torch.randn(GRID_SIDE ** 2, model.latent_dim) * t
    return images.grid(latent.decode_images(model, z), ncols=GRID_SIDE, factor=3)


def start_on_map(name: str):
    """The map with the code the sliders start at."""
    return point_on_map(name, _start_code(name, get_model(name))[0].tolist())


def point_on_map(name: str, z: list[float]):
    if not z:
        return None
    return marked_map(name, np.array(z), "current point", MAP_HEIGHT)
