"""Interpolate: walk in a straight line, or along the sphere, between the codes of two digits.

The walk's frames are drawn by the visitor's browser (ui/drawing.py): dragging the steps slider redraws
them there; the server makes the map and the files to download."""

from __future__ import annotations

import gradio as gr
import torch

from vae_core import data, images, latent
from vae_core.model import VAE

from ..drawing import DigitCanvas, picture_value, when_settled
from ..common import (Limit, check_class, class_choices, class_menu, current_image, digit_tensor, digits_image,
                      download_file, get_model, is_test_source, marked_map, need_test_images, picture, refuse,
                      test_source)
from ..state import CTX

TITLE, ID = "Interpolate", "interpolate"
STEPS = Limit(2, 24, 10, 1)
MODES = ("linear", "spherical")
ENDS = {"A": "1", "B": "0"}  # the classes each end's menu starts on: far apart on every shipped map
MAP_HEIGHT = 420
STRIP_COLUMNS = 8  # frames per row of the strip at most: more are too small to see on a phone


def render(page) -> None:
    ends = {}
    with gr.Row():
        for end, start in ENDS.items():
            with gr.Column(min_width=200):
                heading = gr.Markdown(f"**Digit {end}**")
                menu = gr.Dropdown(class_choices(None), value=start, label="a random test image of class")
                pick = gr.Button(f"Pick {end}")
                use = gr.Button("Use the Reconstruct tab's digit", size="sm")
                page.worded((heading, "value", f"**Digit {end}**"), (use, "value", use.value))
                shown = digits_image(label=end, height=170)
                desc = gr.Markdown()
                ends[end] = (menu, pick, use, [gr.State(None), shown, desc])
        with gr.Column(min_width=200):
            steps = STEPS.slider("steps")
            mode = gr.Radio(list(MODES), value=MODES[0], label="path",
                            info="spherical keeps codes at a typical distance from the centre")
            go = gr.Button("Interpolate", variant="primary")
    strip = DigitCanvas("decoded steps from A to B (read left to right, row by row)", "interp-strip", height=300)
    with gr.Row():
        path_plot = gr.Plot(show_label=False)
        with gr.Column():
            animation = DigitCanvas("the walk, played forward and back (click it to pause)", "interp-anim",
                                    height=220)
            downloads = gr.File(label="download the strip (PNG) and the animation (GIF)", file_count="multiple")
    outputs = [strip, path_plot, animation, downloads]

    a, b = ends["A"][3][0], ends["B"][3][0]
    walk = ([page.model, a, b, steps, mode, strip], outputs)
    for end, (menu, pick, use, shown) in ends.items():
        # A new end walks again at once: the strip never shows the walk between the old ends.
        pick.click(random_digit, [menu, page.model], shown,
                   api_name="random_digit" if end == "A" else f"random_digit_{end.lower()}").success(interpolate, *walk,
                                                                                                    api_name=False)
        menu.input(random_digit, [menu, page.model], shown, api_name=False).success(interpolate, *walk, api_name=False)
        use.click(use_current, [page.model, page.digit, page.source], shown, api_name=False).success(interpolate, *walk,
                                                                                         api_name=False)
    go.click(interpolate, *walk, api_name="interpolate")
    steps.input(None, steps, None, js=WALK, api_name=False, show_progress="hidden")  # redrawn in the browser
    when_settled(strip, interpolate, *walk, trigger_mode="always_last")  # the map and the files follow
    mode.input(interpolate, *walk, api_name=False)
    menus = [ends["A"][0], ends["B"][0]]
    page.on_show(again, [page.current, a, b, ends["A"][3][2], ends["B"][3][2], *menus, steps, mode, strip],
                 [*menus, *ends["A"][3], *ends["B"][3], *outputs])


# The steps slider moved: the browser walks again between the same ends, with that many steps.
WALK = "(steps) => { for (const name of ['interp-strip', 'interp-anim']) window.vaeDraw.get(name).walk(steps); }"


def random_digit(digit: float, name: str | None = None):
    """A random test image of the class chosen, from the model's dataset: (its 28x28 values, its picture,
    its caption)."""
    need_test_images(name)
    d = check_class(name, digit, "the class")
    idx = torch.nonzero(CTX.test_labels(name) == d)[:, 0]
    if not len(idx):
        raise refuse(f"This model's test images hold no {CTX.kind(name).name(d)}: choose another class.")
    return _test_digit(name, int(idx[torch.randint(len(idx), (1,))]))


def _test_digit(name: str | None, i: int):
    """Test image #i of the model's dataset as an end: (its 28x28 values, its picture, its caption)."""
    x = data.to_float(need_test_images(name)[i:i + 1])
    label = int(CTX.test_labels(name)[i])
    return x[0, 0].numpy().tolist(), picture(x, 4), f"{test_source(name, i)}, {CTX.kind(name).a(label)}"


def use_current(name: str, digit: list | None, source: str):
    """The Reconstruct tab's image (the visitor's own, or the one it opens on) as an end."""
    digit, source = current_image(name, digit, source)
    if not digit:
        raise refuse(CTX.kind(name).say("Pick, draw or upload a digit in the Reconstruct tab first."))
    return digit, picture(torch.tensor(digit), 4), source


@torch.no_grad()
def interpolation(model: VAE, ends: torch.Tensor, steps, mode: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The codes from the first end's mean to the second's, and their decoded images (the view and the API)."""
    n = int(STEPS.check(steps, "steps"))
    if mode not in MODES:
        raise refuse(f"mode must be one of {', '.join(MODES)}, not {str(mode)[:40]!r}.")
    mu, _ = model.encode(ends)
    path = latent.interpolate(mu[0], mu[1], n, mode)
    return path, latent.decode_images(model, path)


def again(name: str, a: list | None, b: list | None, a_words: str, b_words: str, a_class, b_class, steps: float,
          mode: str, shown=None):
    """The page opened or the model changed: the ends' menus list the model's classes, and the walk is
    between the two ends in the new model's space (on opening, or where an end is a test image of another
    dataset, the first test images of ENDS' classes, or the first two), so the view is never empty."""
    ends, menus, labels = [], [], CTX.test_labels(name)
    if labels is None:
        need_test_images(name)
    for k, (digit, words, menu, start) in enumerate(((a, a_words, a_class, ENDS["A"]), (b, b_words, b_class, ENDS["B"]))):
        if digit and not ("test image #" in (words or "") and not is_test_source(name, words)):
            ends.append((digit, gr.skip(), gr.skip()))
            menus.append(class_menu(name, menu, start))
        else:  # a new end: its menu names its class (it kept another's place in the list: "Sneaker" by a trouser)
            hits = torch.nonzero(labels == int(start))[:, 0]
            i = int(hits[0]) if len(hits) else min(k, len(labels) - 1)
            ends.append(_test_digit(name, i))
            menus.append(class_menu(name, str(int(labels[i])), start))
    return (*menus, *ends[0], *ends[1], *interpolate(name, ends[0][0], ends[1][0], steps, mode, shown))


def interpolate(name: str, a: list | None, b: list | None, steps: float, mode: str, shown=None):
    if not a or not b:
        raise refuse("Choose both ends first: press Pick A and Pick B (or use the Reconstruct tab's digit).")
    model = get_model(name)
    path, frames = interpolation(model, torch.cat([digit_tensor(a), digit_tensor(b)]), steps, mode)
    rows = -(-len(frames) // STRIP_COLUMNS)  # as few rows as fit, the frames shared evenly between them
    columns = -(-len(frames) // rows)
    walk = {"ends": [path[0].tolist(), path[-1].tolist()], "mode": mode, "most": STRIP_COLUMNS}
    big = [images.upscale(f, 6) for f in images.to_uint8(frames)]
    files = [download_file(images.png_bytes(images.grid(frames, ncols=columns, factor=3)), "interpolation.png"),
             download_file(images.gif_bytes(big), "interpolation.gif")]
    return (picture_value(name, path, shown, frames, columns=columns, walk=walk),
            marked_map(name, path.numpy(), f"{mode} path", MAP_HEIGHT, line=True),
            picture_value(name, path, shown, frames, animate=True, walk=walk), files)
