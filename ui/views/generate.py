"""Generate: drag latent sliders and watch the decoded digit change while you drag; draw samples.

The digit is drawn by the visitor's browser (ui/drawing.py): a drag costs the server nothing once the
decoder has loaded there; before that, or where WebAssembly is missing, the server draws it."""

from __future__ import annotations

import gradio as gr
import torch

from vae_core import data, images, latent

from ..drawing import DigitCanvas, moved_code, picture_value, when_settled
from ..common import CODE_LIMIT, SMALL_MAP, Limit, digits_image, get_model, marked_map
from ..page import on_phone_show
from ..state import CTX

TITLE, ID = "Generate", "generate"
CSS = """
@media (max-width: 640px) {
  /* The buttons just below the digit, above the sliders (below 8 of them, "A random digit" changed a picture
     800 px up, off the screen). */
  #generate-temperature, #generate-buttons { order: -1; }
}
"""
MAX_SLIDERS = 8
Z = Limit(-3.0, 3.0, 0.0, 0.01)  # +-3 sigma of the prior: beyond it the decoder has seen almost nothing
TEMPERATURE = Limit(0.0, 2.0, 1.0, 0.05)
START_DIGIT = 2  # the view opens on the code of the first test digit of this class: a real digit, not a blob
GRID_SIDE = 6  # the sample grid is GRID_SIDE x GRID_SIDE


def render(page) -> None:
    info = gr.Markdown(elem_classes="note")
    with gr.Row():
        # The digit comes first, so that on a phone it stays above the sliders that move it.
        with gr.Column(scale=1, min_width=240):
            digit = DigitCanvas("decoded digit", "generate-digit")
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
        sample_grid_image = digits_image(label=f"{GRID_SIDE ** 2} new digits, drawn from random codes",
                                         elem_id="sample-grid")
        map_plot = gr.Plot(label="where this code sits on the map (updated when you pause)")
    page.worded((digit, "label", "decoded digit"), (temperature, "info", temperature.info),
                (sample_grid_image, "label", sample_grid_image.label), (grid_btn, "value", grid_btn.value),
                (random_btn, "value", random_btn.value))

    point = [page.model, digit, *sliders]
    # A new model in three requests, so that the sliders and their digit come first, then the map, then the
    # samples. Three handlers, not one generator yielding in stages: Gradio sends a generator's later
    # values as differences from its earlier ones, and a chart that first came as "no change" was now and
    # then left empty or stale on the page (1 page load in 5 here).
    page.on_show(setup, [page.current], [digit, info, *sliders])
    page.on_show(start_on_map, [page.current], [map_plot])
    page.on_show(sample_grid, [page.current, temperature], [sample_grid_image])
    for s in sliders:
        # Drawn in the browser while dragging; the server draws only where the browser cannot (server_draw).
        s.input(None, sliders, None, js=MOVE, api_name=False, show_progress="hidden")
    digit.server_draw(draw_moved, point, digit, api_name=False, show_progress="hidden", trigger_mode="always_last")
    # Named for benchmarks/classroom.py, which sends what a class's pages send (undocumented).
    when_settled(digit, point_on_map, point, map_plot, trigger_mode="always_last", api_name="point_on_map",
                 api_visibility="undocumented")
    random_btn.click(random_point, [page.model, digit, temperature], [digit, *sliders],
                     api_name="random_sample").then(point_on_map, point, map_plot, api_name=False)
    reset_btn.click(reset_point, [page.model, digit], [digit, *sliders], api_name=False).then(
        point_on_map, point, map_plot, api_name=False)
    grid_btn.click(sample_grid, [page.model, temperature], sample_grid_image, api_name="sample_grid").then(
        None, js=on_phone_show("#sample-grid"), api_name=False)  # on a phone the grid is below the buttons


# A slider moved: the browser redraws the digit from the sliders' numbers (drawing.js).
MOVE = "(...amounts) => { window.vaeDraw.get('generate-digit').move(amounts); }"


def setup(name: str):
    """A new model: pick which dimensions the sliders drive, start at a real digit's code."""
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
    for d in dims:  # each number on its slider's step, so digit and sliders agree
        z[0, d] = round(float(z[0, d]), 2)
    sliders = [gr.update(visible=i < len(dims), value=round(float(z[0, dims[i]]), 2) if i < len(dims) else 0,
                         label=f"number {dims[i] + 1} of {model.latent_dim}" if i < len(dims) else "")
               for i in range(MAX_SLIDERS)]
    return [picture_value(name, z, dims=dims), CTX.kind(name).say(info), *sliders]


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


def _point(name: str, shown, amounts) -> tuple[torch.Tensor, list[int]]:
    """The code the page shows (its value, with the sliders' numbers), checked; and the sliders' dimensions."""
    model = get_model(name)
    if not isinstance(shown, dict) or not shown.get("codes") or len(shown["codes"][0]) != model.latent_dim:
        return torch.zeros(1, model.latent_dim), []  # another model's code (or none): start from the middle
    dims = [int(d) for d in shown.get("dims") or [] if isinstance(d, (int, float)) and 0 <= d < model.latent_dim]
    for d, v in zip(dims, amounts):
        Z.check(v, f"z{d + 1}")
    return moved_code({"codes": shown["codes"], "dims": dims}, amounts).clamp(-CODE_LIMIT, CODE_LIMIT), dims


def draw_moved(name: str, shown, *amounts):
    """The browser cannot draw yet: the server draws the code the sliders set."""
    z, dims = _point(name, shown, amounts)
    return picture_value(name, z, dims=dims)


def _set_point(name: str, z: torch.Tensor, shown, dims: list[int]):
    """The new point, its digit, and the sliders moved to it (those not in use left alone); a slider's number
    on its step (0.01: a random one showed "-1.301"), and the point with it, so digit and sliders agree."""
    for d in dims:
        z[0, d] = round(float(z[0, d]), 2)
    values = [gr.update(value=round(float(z[0, d]), 2)) for d in dims]
    return [picture_value(name, z, shown, dims=dims), *values, *[gr.skip()] * (MAX_SLIDERS - len(dims))]


def random_point(name: str, shown, temperature: float):
    model = get_model(name)
    t = TEMPERATURE.check(temperature, "temperature")
    z = (torch.randn(1, model.latent_dim) * t).clamp(Z.lo, Z.hi)
    return _set_point(name, z, shown, _point(name, shown, [])[1])


def reset_point(name: str, shown):
    model = get_model(name)
    return _set_point(name, torch.zeros(1, model.latent_dim), shown, _point(name, shown, [])[1])


def sample_grid(name: str, temperature: float):
    model = get_model(name)
    t = TEMPERATURE.check(temperature, "temperature")
    z = torch.randn(GRID_SIDE ** 2, model.latent_dim) * t
    return images.grid(latent.decode_images(model, z), ncols=GRID_SIDE, factor=3)


def start_on_map(name: str):
    """The map with the code the sliders start at."""
    return marked_map(name, _start_code(name, get_model(name))[0].numpy(), "current point", SMALL_MAP)


def point_on_map(name: str, shown, *amounts):
    z, _ = _point(name, shown, amounts)
    return marked_map(name, z[0].numpy(), "current point", SMALL_MAP)
