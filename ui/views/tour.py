"""Tour: what a VAE does, as a story in six steps, each one big picture and two sentences, for a
presenter in front of a class. Each picture is drawn from the app's own models; "Try it" opens the view
where the step can be played with. The maths stays in "How it works"."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import gradio as gr
import numpy as np
import torch
from PIL import Image, ImageDraw

from vae_core import data, images, latent

from .. import figures
from ..common import get_model, log, need_test_images
from ..state import CTX, FIRST_MODEL, MAIN_MODEL

TITLE, ID = "Tour", "tour"
CANVAS = 560  # pixels a side of the dots picture
PRESENTER = "(on) => { document.body.classList.toggle('presenter', on); }"


@dataclass(frozen=True)
class Step:
    title: str
    text: str
    picture: Callable[[], np.ndarray]
    tab: str  # the view where the visitor can try it
    tab_title: str


def _dots() -> np.ndarray:
    """The 2-number model's map of the 10,000 test digits, one colour per digit, with a legend of digits."""
    emb = CTX.registry.embedding(FIRST_MODEL, need_test_images())
    extent = latent.plane_extent(emb.mu)
    xy = ((emb.mu + extent) / (2 * extent) * (CANVAS - 1)).clip(0, CANVAS - 2).astype(int)
    canvas = Image.new("RGB", (CANVAS, CANVAS + 60), "white")
    draw = ImageDraw.Draw(canvas)
    labels = CTX.test_labels().numpy()
    for (x, y), label in zip(xy, labels):
        draw.rectangle([x, CANVAS - 1 - y, x + 2, CANVAS + 1 - y], fill=figures.DIGIT_COLOURS[label])
    for d in range(10):  # the legend: a real digit in each colour
        digit = images.upscale(images.to_uint8(data.to_float(need_test_images()[[int(np.argmax(labels == d))]]))[0], 2)
        tint = Image.new("RGB", digit.shape[::-1], figures.DIGIT_COLOURS[d])
        canvas.paste(tint, (14 + d * 55, CANVAS + 2), Image.fromarray(digit))
    return np.asarray(canvas)


def _manifold() -> np.ndarray:
    model = get_model(FIRST_MODEL)
    extent = latent.plane_extent(CTX.registry.embedding(FIRST_MODEL, need_test_images()).mu)
    mosaic, _ = latent.manifold(model, n=17, extent=extent)
    return 255 - mosaic


def _first_of(digit: int) -> torch.Tensor:
    labels = CTX.test_labels()
    return data.to_float(need_test_images()[[int(torch.nonzero(labels == digit)[0, 0])]])


@torch.no_grad()
def _walk() -> np.ndarray:
    model = get_model(MAIN_MODEL)
    mu, _ = model.encode(torch.cat([_first_of(3), _first_of(8)]))
    return images.grid(latent.decode_images(model, latent.interpolate(mu[0], mu[1], 8)), ncols=8, factor=4)


@torch.no_grad()
def _drawing() -> np.ndarray:
    """A digit drawn with a mouse (strokes on white), what the model sees, and what it draws back."""
    sketch = Image.new("L", (280, 280), 255)
    ImageDraw.Draw(sketch).line([(70, 60), (210, 60), (130, 230)], fill=0, width=22, joint="curve")
    seen = images.prepare_user_image(np.asarray(sketch))
    model = get_model(MAIN_MODEL)
    mu, _ = model.encode(torch.tensor(seen).reshape(1, 1, 28, 28))
    recon = images.to_uint8(latent.decode_images(model, mu))[0]
    drawn = np.asarray(sketch.resize((168, 168)))
    gap = np.full((168, 24), 255, dtype=np.uint8)
    return np.concatenate([drawn, gap, images.upscale(images.to_uint8(seen), 6), gap, images.upscale(recon, 6)], 1)


def _samples() -> np.ndarray:
    model = get_model(MAIN_MODEL)
    z = torch.randn(24, model.latent_dim, generator=torch.Generator().manual_seed(3))
    return images.grid(latent.decode_images(model, z), ncols=8, factor=3)


def _betas() -> np.ndarray:
    """Random digits from the models trained at the smallest and the largest beta, side by side."""
    ladder = [d for d in CTX.ladder() if d["shipped"]]
    grids = []
    for d in (ladder[0], ladder[-1]):
        model = get_model(d["name"])
        z = torch.randn(16, model.latent_dim, generator=torch.Generator().manual_seed(0))
        grids.append(images.grid(latent.decode_images(model, z), ncols=4, factor=3))
    return np.concatenate([grids[0], np.full((grids[0].shape[0], 40), 255, dtype=np.uint8), grids[1]], 1)


STEPS = [
    Step("1. Every digit becomes a point",
         "The encoder reads a picture of a digit and describes it with a few numbers, its *code*. With two "
         "numbers per digit, every digit is a point on a map: here are 10,000 of them, one colour per digit.",
         _dots, "map", "Latent map"),
    Step("2. Every point becomes a digit",
         "The decoder works the other way: give it any point and it draws a digit. Each little picture is "
         "what it draws at that spot; look how one digit blends into the next.",
         _manifold, "map", "Latent map"),
    Step("3. Walk from one digit to another",
         "Take the codes of a 3 and of an 8 and walk in a straight line between them, drawing every step. "
         "The model turns one into the other through digits nobody ever wrote.",
         _walk, "interpolate", "Interpolate"),
    Step("4. Draw your own",
         "Draw a digit (left): the app makes it look like the training digits (middle), the encoder finds "
         "its code, and the decoder draws it back (right). What comes back is what the model thinks you meant.",
         _drawing, "reconstruct", "Reconstruct"),
    Step("5. Make new digits",
         "Pick random numbers for a code and the decoder draws a digit that nobody wrote. In Generate, "
         "sliders move the numbers one at a time.",
         _samples, "generate", "Generate"),
    Step("6. What the KL weight β does",
         "Training balances two wishes: draw every digit back exactly, and keep all codes near the middle "
         "of the map. Random digits with a small β (left) are sharp but often not digits; with a large β "
         "(right) they are tidy but blurry.",
         _betas, "beta", "KL weight β"),
]


def render(page) -> None:
    with gr.Row():
        counter = gr.Markdown(elem_classes="note")
        presenter = gr.Checkbox(label="Presenter mode (large pictures for a projector)", value=False)
    text = gr.Markdown(elem_id="tour-text")
    picture = gr.Image(show_label=False, elem_id="tour-picture", interactive=False, height=440)
    with gr.Row(elem_id="tour-buttons"):
        back = gr.Button("◀ Back", interactive=False)
        forward = gr.Button("Next ▶", variant="primary")
        try_it = gr.Button("Try it")
    step = gr.State(0)

    outputs = [step, counter, text, picture, back, forward, try_it]
    page.on_show(lambda: show_step(0), [], outputs, per_model=False)
    back.click(lambda i: show_step(i - 1), step, outputs, api_name=False)
    forward.click(lambda i: show_step(i + 1), step, outputs, api_name="tour_step")
    page.go_to(try_it.click, lambda i: STEPS[int(i)].tab, step)
    presenter.change(None, presenter, None, js=PRESENTER, api_name=False)


def show_step(i: int):
    i = int(min(max(int(i or 0), 0), len(STEPS) - 1))
    s = STEPS[i]
    return (i, f"Step {i + 1} of {len(STEPS)}", f"### {s.title}\n{s.text}", _picture(i),
            gr.Button(interactive=i > 0), gr.Button(interactive=i < len(STEPS) - 1),
            gr.Button(f"Try it: {s.tab_title} ▸"))


def _picture(i: int) -> np.ndarray | None:
    """A step's picture, drawn once and remembered; None where its models or digits are missing."""
    if i not in _PICTURES:
        try:
            _PICTURES[i] = STEPS[i].picture()
        except (gr.Error, KeyError, IndexError) as e:
            log.warning("tour step %d: no picture (%s)", i + 1, e)
            return None
    return _PICTURES[i]


_PICTURES: dict[int, np.ndarray] = {}
