"""Tour: what a VAE does, as a story in six steps, each one big picture and two sentences, for a
presenter in front of a class. Each picture is drawn from the app's own models; "Try it" opens the view
where the step can be played with. The maths stays in "How it works"."""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Callable

import gradio as gr
import numpy as np
import torch
from PIL import Image, ImageDraw

from vae_core import data, images, latent

from .. import figures
from ..common import concepts_of, get_model, log, need_test_images
from ..state import CTX, FIRSTS, MAINS
from . import beta, generate, interpolate, latent_map, reconstruct

TITLE, ID = "Tour", "tour"
CSS = """
#tour-picture img { image-rendering: pixelated; }
/* Presenter mode: on the Tour the header steps aside, and the step fills a projector's screen. On every
   other view the header and its model menu stay, so a teacher can switch models mid-lesson. */
.presenter:has(button[data-tab-id="tour"][aria-selected="true"]) #intro,
.presenter:has(button[data-tab-id="tour"][aria-selected="true"]) #model-row { display: none !important; }
/* as tall as fits below the step's buttons and words (64vh ran 70 px past the foot of a 1280x800 screen) */
.presenter #tour-picture { height: max(300px, calc(100vh - 400px)) !important; }
/* Back and Next above the step, where they stay on screen (below its picture they fell under the fold). */
#tour-buttons { order: -1; }
.presenter #tour-picture img { width: 100%; height: 100%; object-fit: contain; }
.presenter #tour-text p { font-size: 1.7rem !important; line-height: 1.35 !important; }
.presenter #tour-text h3 { font-size: 2.3rem !important; }
.presenter #tour-buttons button { font-size: 1.4em; padding: 0.6em 1.2em; }
@media (max-width: 640px) {
  #tour-picture .icon-button-wrapper.top-panel { display: none; }
  /* a step's picture as tall as it is (a strip of three digits sat in a 440 px frame) */
  body:not(.presenter) #tour-picture { height: auto !important; }
  body:not(.presenter) #tour-picture img { height: auto !important; max-height: 60vh; padding: 8px;
                                           box-sizing: border-box; }
}
"""
CANVAS = 560  # pixels a side of the dots picture
PRESENTER = "(on) => { document.body.classList.toggle('presenter', on); }"


@dataclass(frozen=True)
class Step:
    title: str
    text: str
    picture: Callable[[str, str], np.ndarray]  # (the dataset's 2-D model, its main model) -> the picture
    view: ModuleType  # the view where the visitor can try it (its ID and TITLE)
    same_for_all: bool = False  # its picture and words are the digits' whatever the model shown


def _dots(first: str, main: str) -> np.ndarray:
    """The 2-number model's map of the test images, one colour per class, with a legend of real images."""
    emb = CTX.registry.embedding(first, need_test_images(first))
    if emb.mu.shape[1] != 2:
        raise KeyError(f"{first} is not a 2-D model")
    extent = latent.plane_extent(emb.mu)
    xy = ((emb.mu + extent) / (2 * extent) * (CANVAS - 1)).astype(int)
    canvas = Image.new("RGB", (CANVAS, CANVAS + 60), "white")
    draw = ImageDraw.Draw(canvas)
    labels = CTX.test_labels(first).numpy()
    inside = ((xy >= 0) & (xy <= CANVAS - 2)).all(1)  # the few codes past the map's edge (0.1%) are left out,
    for (x, y), label in zip(xy[inside], labels[inside]):  # not piled up along it
        draw.rectangle([x, CANVAS - 1 - y, x + 2, CANVAS + 1 - y], fill=figures.colour(label))
    for d in sorted(set(labels.tolist()))[:10]:  # the legend: a real image in each colour
        digit = images.upscale(images.to_uint8(data.to_float(need_test_images(first)[[int(np.argmax(labels == d))]]))[0], 2)
        tint = Image.new("RGB", digit.shape[::-1], figures.colour(d))
        canvas.paste(tint, (14 + d * 55, CANVAS + 2), Image.fromarray(digit))
    return np.asarray(canvas)


def _manifold(first: str, main: str) -> np.ndarray:
    model = get_model(first)
    if model.latent_dim != 2:
        raise KeyError(f"{first} is not a 2-D model")
    extent = latent.plane_extent(CTX.registry.embedding(first, need_test_images(first)).mu)
    mosaic, _ = latent.manifold(model, n=17, extent=extent)
    return 255 - mosaic


WALK = (2, 3)  # the classes walked between: a 2 and a 3 (a pullover and a dress), a walk that blends on the way


def _typical(name: str, digit: int) -> int:
    """The test image of class `digit` that lies likeliest in its class's region of the codes, not the first
    in the set: MNIST's first 3 is drawn so round that the walk from it looked like 8s all the way."""
    hits = torch.nonzero(CTX.test_labels(name) == digit)[:, 0]
    if not len(hits):
        return digit % len(CTX.test_labels(name))
    mu = torch.from_numpy(CTX.registry.embedding(name, need_test_images(name)).mu[hits.numpy()])
    return int(hits[int(concepts_of(name).per_class(mu)[:, digit].argmax())])


@torch.no_grad()
def _walk(first: str, main: str) -> np.ndarray:
    model = get_model(main)
    ends = data.to_float(need_test_images(main)[[_typical(main, WALK[0]), _typical(main, WALK[1])]])
    mu, _ = model.encode(ends)
    return images.grid(latent.decode_images(model, latent.interpolate(mu[0], mu[1], 8)), ncols=8, factor=4)


@torch.no_grad()
def _drawing(first: str, main: str) -> np.ndarray:
    """A drawing of one of the model's own kind (a 7, a T-shirt, a blob), what the model sees, and what it
    draws back."""
    sketch = Image.new("L", (280, 280), 255)
    pen, dataset = ImageDraw.Draw(sketch), CTX.kind(main).dataset
    if dataset == "mnist":  # a 7 in strokes, as a mouse draws it
        pen.line([(70, 60), (210, 60), (130, 230)], fill=0, width=22, joint="curve")
    elif dataset == "fashion-mnist":  # a T-shirt's outline
        shirt = [(105, 40), (175, 40), (250, 85), (222, 130), (195, 112), (195, 245), (85, 245), (85, 112),
                 (58, 130), (30, 85), (105, 40)]
        pen.line(shirt, fill=0, width=22, joint="curve")
    else:  # a folder's images could be anything: a ring
        pen.ellipse([(60, 60), (220, 220)], outline=0, width=22)
    seen = images.prepare_user_image(np.asarray(sketch))
    model = get_model(main)
    mu, _ = model.encode(torch.tensor(seen).reshape(1, 1, 28, 28))
    recon = images.to_uint8(latent.decode_images(model, mu))[0]
    drawn = np.asarray(sketch.resize((168, 168)))
    gap = np.full((168, 24), 255, dtype=np.uint8)
    return np.concatenate([drawn, gap, images.upscale(images.to_uint8(seen), 6), gap, images.upscale(recon, 6)], 1)


def _samples(first: str, main: str) -> np.ndarray:
    model = get_model(main)
    z = torch.randn(24, model.latent_dim, generator=torch.Generator().manual_seed(3))
    return images.grid(latent.decode_images(model, z), ncols=8, factor=3)


def _betas(first: str, main: str) -> np.ndarray:
    """Random digits from the models trained at the smallest and the largest beta, side by side."""
    rungs = [r for r in beta.ladder() if r.shipped]
    grids = []
    for rung in (rungs[0], rungs[-1]):
        model = get_model(rung.name)
        z = torch.randn(16, model.latent_dim, generator=torch.Generator().manual_seed(0))
        grids.append(images.grid(latent.decode_images(model, z), ncols=4, factor=3))
    return np.concatenate([grids[0], np.full((grids[0].shape[0], 40), 255, dtype=np.uint8), grids[1]], 1)


STEPS = [
    Step("1. Every digit becomes a point",
         "The encoder reads a picture of a digit and describes it with a few numbers, its *code*. With two "
         "numbers per digit, every digit is a point on a map: here are 10,000 of them, one colour per digit.",
         _dots, latent_map),
    Step("2. Every point becomes a digit",
         "The decoder works the other way: give it any point and it draws a digit. Each little picture is "
         "what it draws at that spot; look how one digit blends into the next.",
         _manifold, latent_map),
    Step("3. Walk from one digit to another",
         "Take the codes of {a} and of {b} and walk in a straight line between them, drawing every step. "
         "The model turns one into the other through digits nobody ever drew.",
         _walk, interpolate),
    Step("4. Draw your own",
         "Draw a digit (left): the app makes it look like the training digits (middle), the encoder finds "
         "its code, and the decoder draws it back (right). What comes back is what the model thinks you meant.",
         _drawing, reconstruct),
    Step("5. Make new digits",
         "Pick random numbers for a code and the decoder draws a digit that nobody drew. In Generate, "
         "sliders move the numbers one at a time.",
         _samples, generate),
    Step("6. What the KL weight β does",
         "Training balances two wishes: draw every digit back exactly, and keep all codes near the middle "
         "of the map. Random digits with a small β (left) are sharp but often not digits; with a large β "
         "(right) they are tidy but blurry.",
         _betas, beta, same_for_all=True),
]


def render(page) -> None:
    with gr.Row():
        counter = gr.Markdown(elem_classes="note")
        presenter = gr.Checkbox(label="Presenter mode (large pictures for a projector)", value=False)
    text = gr.Markdown(elem_id="tour-text")
    picture = gr.Image(format="png", show_label=False, elem_id="tour-picture", interactive=False, height=440)
    with gr.Row(elem_id="tour-buttons"):
        back = gr.Button("◀ Back", interactive=False)
        forward = gr.Button("Next ▶", variant="primary")
        try_it = gr.Button("Try it")
    step = gr.State(0)

    outputs = [step, counter, text, picture, back, forward, try_it]
    # A model of another dataset tells the story with that dataset's models and words, from the same step.
    page.on_show(show_step, [step, page.current], outputs)
    back.click(lambda i, name: show_step(i - 1, name), [step, page.current], outputs, api_name=False)
    forward.click(lambda i, name: show_step(i + 1, name), [step, page.current], outputs, api_name="tour_step")
    # Off to try it, out of presenter mode: the view it opens is for the pupils' own hands.
    page.go_to(try_it.click, lambda i: STEPS[int(i)].view.ID, step).then(
        lambda: False, None, presenter, api_name=False)
    presenter.change(None, presenter, None, js=PRESENTER, api_name=False)


def show_step(i: int, name: str | None = None):
    """Step i of the tour, told with the models of the dataset that `name` shows (MNIST's when that
    dataset has no 2-D and main model here)."""
    i = int(min(max(int(i or 0), 0), len(STEPS) - 1))
    s, (first, main) = STEPS[i], _storytellers(name)
    kind = CTX.kind(main)
    text = s.text.format(a=kind.a(WALK[0]), b=kind.a(WALK[1]))
    if not s.same_for_all:
        labels = CTX.test_labels(first)
        text = kind.say(text if labels is None else text.replace("10,000", f"{len(labels):,}"))
    title = s.title if s.same_for_all else kind.say(s.title)
    if s.same_for_all and not kind.digits:
        text += " *(Shown here on the digit models.)*"
    return (i, f"Step {i + 1} of {len(STEPS)}", f"### {title}\n{text}", _picture(i, first, main),
            gr.Button(interactive=i > 0), gr.Button(interactive=i < len(STEPS) - 1),
            gr.Button(f"Try it: {s.view.TITLE} ▸"))


def _storytellers(name: str | None) -> tuple[str, str]:
    """The 2-D model and the main model that tell the story for the dataset `name` shows: its shipped
    pair, else the model itself for both where it is of another dataset, else MNIST's pair."""
    first, main = CTX.first_of(name), CTX.main_of(name)
    if first and main:
        return first, main
    if name and name in CTX.registry.names() and not CTX.kind(name).digits:
        return first or name, main or name
    return FIRSTS["mnist"], MAINS["mnist"]


def _picture(i: int, first: str, main: str) -> np.ndarray | None:
    """A step's picture, drawn once per pair of models and remembered; None where its models or images
    are missing."""
    key = (i, *(("digits",) if STEPS[i].same_for_all else (first, main)))
    if key not in _PICTURES:
        try:
            _PICTURES[key] = STEPS[i].picture(first, main) if not STEPS[i].same_for_all else STEPS[i].picture("", "")
        except (gr.Error, KeyError, IndexError) as e:
            log.warning("tour step %d: no picture (%s)", i + 1, e)
            return None
    return _PICTURES[key]


_PICTURES: dict[tuple, np.ndarray] = {}
