"""Reconstruct: pick a test digit, draw one or upload a photo; see what the model sees, its
reconstruction, the encoder's mu +- sigma for every dimension, samples of q(z|x), where it lands on the
map, and morph it into any digit (a walk from its code to that digit's centre, played on the page)."""

from __future__ import annotations

import gradio as gr
import numpy as np
import torch

from vae_core import concepts, images, latent
from vae_core.model import VAE

from .. import figures
from ..drawing import DigitCanvas, decoder_url, picture_value
from ..common import (SMALL_MAP, check_class, class_choices, concepts_of, current_image, digit_from_test_set,
                      digit_tensor, digits_image, gallery_indices, get_model, marked_map, need_test_images, picture,
                      recognise, recognition_words, refuse, test_source)
from ..page import on_phone_show
from ..state import CTX

TITLE, ID = "Reconstruct", "reconstruct"
CSS = """
/* The gallery's label above its thumbnails, not over the first one. */
#gallery label[data-testid="block-label"].float { position: static; margin-bottom: 4px; }
/* A caption, small, wraps onto a second line rather than losing its end ("T-shirt/t..."). */
.gallery-item .caption-label { white-space: normal; text-overflow: clip; line-height: 1.1; font-size: 0.75rem;
                               padding: 1px 3px; opacity: 0.85; }
"""
POSTERIOR_SAMPLES = 8
BAR_DIMS = 16  # dimensions in the mu +- sigma chart of a large model: the most informative ones
ASK = "Pick a digit from the gallery, draw one, or upload a picture."
MORPH_STEPS = 16
BRUSH = 14  # the sketchpad's brush, in pixels of its 280-pixel canvas
MORPH_NOTE = ("**Morph it into another digit.** Click a digit: the model walks from this digit's code to the middle "
              "of that digit's codes, drawing as it goes. The walk shows as a line on the map above.")


def render(page) -> None:
    with gr.Row():
        with gr.Column(scale=1):
            with gr.Tab("Test digits") as digits_tab:
                gallery = gr.Gallery(label="click a digit", columns=5, height=320, allow_preview=False,
                                     elem_id="gallery")
            with gr.Tab("Draw") as draw_tab:
                # A thinner brush than Gradio's own: with it, a 7 or a 2 drawn small came out as fat as an 8
                # (strokes 5-6 pixels of the 28) and were read as 8s.
                # Its label is the same for every dataset: an update of the pad (its label, on a change of
                # model) left it taking strokes that drew nothing.
                sketch = gr.Sketchpad(label="draw here, big", height=300, elem_id="sketch",
                                      canvas_size=(280, 280), type="numpy", image_mode="RGBA",
                                      brush=gr.Brush(default_size=BRUSH, colors=["#000000"], color_mode="fixed"))
                sketch_btn = gr.Button("Encode my drawing", variant="primary")
            with gr.Tab("Upload"):
                upload = gr.File(label="a picture of one digit (PNG, JPEG…)", file_types=["image"],
                                 type="filepath")
        with gr.Column(scale=1):
            with gr.Row(elem_id="recon-pair"):
                seen = digits_image(label="as the model sees it", height=200)
                recon = digits_image(label="reconstruction", height=200)
            text = gr.Markdown(ASK)
            # The formula (z = mu + sigma * eps, a new eps) is in How it works; the button says it in words.
            eps_btn = gr.Button(f"Show {POSTERIOR_SAMPLES} other codes the encoder finds likely")
            eps_grid = digits_image(label=f"the decoder's drawing of {POSTERIOR_SAMPLES} likely codes of this digit",
                                    height=210)
    with gr.Row():
        bars = gr.Plot(show_label=False)
        place = gr.Plot(show_label=False, elem_id="digit-place")
    with gr.Row(equal_height=False):
        with gr.Column(scale=2):
            morph_note = gr.Markdown(MORPH_NOTE, elem_classes="note")
            morph_to = gr.Radio(class_choices(None), value=None, label="morph it into", elem_id="morph-to")
            morph_text = gr.Markdown()
        with gr.Column(scale=1, min_width=160):
            morph_anim = DigitCanvas("the morph, played forward and back (click it to pause)", "morph-anim",
                                     height=220)

    # A new digit clears the old one's morph.
    picked = [page.digit, page.source, seen, recon, bars, place, text, eps_grid, morph_to, morph_text, morph_anim]
    page.on_show(gallery_items, [page.current], [gallery])
    page.worded((digits_tab, "label", "Test digits"), (upload, "label", upload.label),
                (eps_grid, "label", eps_grid.label), (morph_note, "value", MORPH_NOTE))
    page.on_show(show_current, [page.current, page.digit, page.source], picked)
    # On a phone the pair of pictures is below the gallery, the pad or the upload: brought on screen when drawn.
    shown = on_phone_show("#recon-pair")
    gallery.select(pick_gallery, page.model, picked, api_name=False).then(None, js=shown, api_name=False)
    sketch_btn.click(pick_sketch, [page.model, sketch, page.digit, page.source], picked, api_name="encode_sketch"
                     ).then(None, js=shown, api_name=False)
    upload.upload(pick_upload, [page.model, upload], picked, api_name="encode_upload").then(None, js=shown,
                                                                                           api_name=False)
    eps_btn.click(resample, [page.model, page.digit], eps_grid, api_name="resample")
    morph_to.input(morph, [page.model, page.digit, page.source, morph_to, morph_anim],
                   [place, morph_text, morph_anim], api_name="morph")
    draw_tab.select(None, js="() => window.__vaeBrush && window.__vaeBrush()", api_name=False)
    gr.HTML("", js_on_load=CHOOSE_THE_BRUSH, padding=False)


# The sketchpad opens with no tool chosen (strokes did nothing): choose the brush when the Draw tab opens and
# after every Clear, as soon as the pad is drawn (on a slow phone that takes seconds). A chosen tool is
# "highlight"ed, and clicking a chosen one puts it away, so only an unchosen one is clicked. The watch goes on
# for 2 s even with the brush chosen (Clear puts it away a moment after the click), then ends once it is
# chosen, or after 15 s.
CHOOSE_THE_BRUSH = """
const chosen = (b) => b.classList.contains('highlight') || b.classList.contains('selected');
window.__vaeBrush = () => {
  const started = Date.now();
  const watch = setInterval(() => {
    const brush = document.querySelector('#sketch button[aria-label="Brush"]');
    if (brush && !chosen(brush)) brush.click();
    const waited = Date.now() - started;
    if ((brush && chosen(brush) && waited > 2000) || waited > 15000) clearInterval(watch);
  }, 150);
};
document.addEventListener('click', (event) => {
  if (event.target.closest && event.target.closest('#sketch button[aria-label="Clear canvas"]')) window.__vaeBrush();
}, true);
"""


def gallery_items(name: str):
    """The gallery of the model's dataset, labelled in its words."""
    kind = CTX.kind(name)
    if CTX.test_images(name) is None:
        return gr.update(value=[], label=kind.say("click a digit"))
    labels = CTX.test_labels(name)
    # A caption of a word or two ("7", "ankle boot"): it sits on the thumbnail ("#6937: a 0" covered half of it).
    return gr.update(value=[(picture(digit_from_test_set(name, i), 3), kind.plain(int(labels[i])))
                            for i in gallery_indices(name)], label=kind.say("click a digit"))


def show_current(name: str, digit: list | None, source: str):
    """The model changed, or the page opened: reconstruct the current digit; at first, or when it was a
    test image of another dataset than the new model's, the gallery's first. The morph menu lists the
    model's classes."""
    classes = gr.update(choices=class_choices(name), value=None)
    digit, source = current_image(name, digit, source)
    if not digit:
        return None, "", None, None, None, None, ASK, None, classes, "", None
    out = [digit, source, *reconstruct(name, digit, source)]
    out[-3] = classes
    return tuple(out)


def pick_gallery(name: str, evt: gr.SelectData):
    i = gallery_indices(name)[evt.index]
    digit = digit_from_test_set(name, i)
    return (digit, test_source(name, i), *reconstruct(name, digit, test_source(name, i)))


def _pick_image(name: str, image, source: str):
    try:
        digit = images.prepare_user_image(image).tolist()
    except ValueError as e:
        raise refuse(str(e)) from None
    return (digit, source, *reconstruct(name, digit, source))


def pick_sketch(name: str, sketch, digit: list | None = None, source: str = ""):
    """Encode the drawing. An empty pad is no error: a yellow note says what to do, and the view keeps
    showing the digit it showed (red error badges on every panel looked like a crash)."""
    composite = sketch.get("composite") if isinstance(sketch, dict) else sketch
    try:
        drawn = None if composite is None else images.prepare_user_image(composite).tolist()
    except ValueError:
        drawn = None
    if drawn is not None:
        return (drawn, "your drawing", *reconstruct(name, drawn, "your drawing"))
    hint = "Nothing is drawn yet: draw a digit in the white square (with the brush), then press Encode."
    if not digit:
        raise refuse(hint)
    gr.Warning(hint)
    return (digit, source, *reconstruct(name, digit, source))


def pick_upload(name: str, file):
    path = file if isinstance(file, str) else getattr(file, "name", None)
    if not path:
        raise refuse("Choose a picture of one digit to upload.")
    try:
        image = images.load_image_file(path)
    except ValueError as e:
        raise refuse(str(e)) from None
    return _pick_image(name, image, "your upload")


@torch.no_grad()
def reconstruct(name: str, digit: list, source: str):
    """The digit through the model: what it sees, the reconstruction, its code, its place, q(z|x) samples."""
    model = get_model(name)
    x = digit_tensor(digit)
    mu, logvar = model.encode(x)
    recon = latent.decode_images(model, mu)
    mu_np, sigma_np = mu[0].numpy(), torch.exp(0.5 * logvar)[0].numpy()
    dims = None
    if CTX.test_images(name) is not None and model.latent_dim > BAR_DIMS:
        kl = CTX.registry.embedding(name, CTX.test_images(name)).kl_per_dim
        dims = sorted(latent.informative_dims(kl, BAR_DIMS))
    shown = f"the {BAR_DIMS} numbers of the code it uses most" if dims else "every number of the code"
    text = (f"**{source}** as the model sees it (28x28, centred like its training images), and its reconstruction "
            f"from the code's most likely numbers. The chart shows {shown}: a short bar is a confident encoder.")
    if CTX.test_images(name) is not None:
        text = f"{recognition_words(recognise(name, x), name)}\n\n{text}"
    return (picture(x), picture(recon), figures.posterior_bars(mu_np, sigma_np, dims),
            # The star's legend entry in two words: "Fashion-MNIST test image #1234" took a row of its own,
            # and the legend grew into the map's title.
            marked_map(name, mu_np, CTX.kind(name).say("this digit"), SMALL_MAP), text,
            _posterior_samples(model, mu, logvar), None, "", _no_morph(name))


def _no_morph(name: str) -> dict:
    """No morph shown yet; the page gets the decoder that will draw one (and tells the server it can)."""
    return {"decoder": decoder_url(name), "codes": None}


def _posterior_samples(model: VAE, mu: torch.Tensor, logvar: torch.Tensor) -> np.ndarray:
    """Draws z = mu + sigma * eps, decoded: the encoder gives a distribution, not a point."""
    z = model.reparameterize(mu.expand(POSTERIOR_SAMPLES, -1), logvar.expand(POSTERIOR_SAMPLES, -1))
    return images.grid(latent.decode_images(model, z), ncols=POSTERIOR_SAMPLES // 2, factor=3)


@torch.no_grad()
def resample(name: str, digit: list | None):
    """Draw eps again for the current digit."""
    if not digit:
        raise refuse("Pick, draw or upload a digit first.")
    model = get_model(name)
    mu, logvar = model.encode(digit_tensor(digit))
    return _posterior_samples(model, mu, logvar)


def morph(name: str, digit: list | None, source: str, into, shown=None):
    """The current digit morphed into a typical digit of the class chosen: the walk on the map, a line of
    words, and the animation (drawn by the visitor's browser, played forward and back)."""
    if not digit:
        raise refuse("Pick, draw or upload a digit first.")
    target = check_class(name, into, "the class to morph into")
    model = get_model(name)
    need_test_images(name)
    path, frames = concepts.morph(model, digit_tensor(digit), concepts_of(name), target, MORPH_STEPS)
    kind = CTX.kind(name)
    words = (f"**{source[:1].upper()}{source[1:]} → {kind.a(target)}** in {MORPH_STEPS} steps along a straight "
             f"line of codes, ending where the model keeps its most typical {kind.plain(target)}"
             f"{'s' if kind.digits else ''}.")
    return (marked_map(name, path.numpy(), f"morph into {kind.a(target)}", SMALL_MAP, line=True), words,
            picture_value(name, path, shown, frames, animate=True))
