"""Make a digit: choose 0-9 and the model draws new examples of it, with a variety control; then make
the first one, or the visitor's own digit, bolder, more slanted, wider or taller with sliders that mean
what they say."""

from __future__ import annotations

import gradio as gr
import torch

from vae_core import concepts, images, latent

from ..drawing import DigitCanvas, picture_value
from ..common import (CODE_LIMIT, Limit, check_class, class_choices, class_menu, concepts_of, current_image,
                      digit_tensor, digits_image, get_model, need_test_images, refuse)
from ..state import CTX

TITLE, ID = "Make a digit", "make"
CSS = "@media (max-width: 640px) { #make-change { flex-direction: column; } }\n"
INTRO = ("Choose a digit and the model draws new ones that nobody drew: it knows where each digit lives among "
         "its codes, and picks new codes there. Then change the first one with the sliders.")
CHANGE_NOTE = ("**Change the first one** (or your own digit). Each slider moves its code along a direction the app "
               "found by measuring real digits (ink, slant, size) and matching them to their codes.")
FIRST_CLASS = "3"  # the class chosen at first (where a model has it)
VARIETY = Limit(0.0, 2.0, 1.0, 0.1)  # 0: the class's most typical code; 1: as varied as real digits
CHANGE = Limit(-2.0, 2.0, 0.0, 0.25)  # standard deviations of the property among real digits: past 2, blobs
MADE = 8  # digits made at a time
WORDS = {"thickness": "thinner ◀ stroke ▶ bolder", "slant": "leaning left ◀ slant ▶ leaning right",
         "width": "narrower ◀ width ▶ wider", "height": "shorter ◀ height ▶ taller"}


def render(page) -> None:
    intro = gr.Markdown(INTRO, elem_classes="note")
    with gr.Row():
        with gr.Column(scale=1, min_width=240):
            digit = gr.Radio(class_choices(None), value=FIRST_CLASS, label="digit", elem_id="make-digit")
            variety = VARIETY.slider("variety", info="0: the most typical one; 1: as varied as real handwriting")
            make_btn = gr.Button(f"Make {MADE} new ones", variant="primary")
        with gr.Column(scale=2):  # the model's reading of its digits under them, on a phone too
            made = digits_image(label="new digits made by the model")
            check = gr.Markdown(elem_id="make-check")
    with gr.Row(elem_id="make-change"):  # on a phone the words above the button, not squeezed beside it
        change_note = gr.Markdown(CHANGE_NOTE, elem_classes="note")
        use_btn = gr.Button("Change the Reconstruct tab's digit instead", size="sm", scale=0, min_width=200)
    with gr.Row():
        with gr.Column(scale=2):
            sliders = [CHANGE.slider(WORDS[p]) for p in concepts.PROPERTIES]
        with gr.Column(scale=1, min_width=160):
            changed = DigitCanvas("the first one, changed", "make-changed", height=220)

    page.worded((intro, "value", INTRO), (made, "label", made.label), (change_note, "value", CHANGE_NOTE),
                (variety, "info", variety.info), (use_btn, "value", use_btn.value),
                *[(slider, "label", slider.label) for slider in sliders])
    page.on_show(make_shown, [page.current, digit, variety, changed], [digit, made, check, changed, *sliders])
    make_btn.click(make, [page.model, digit, variety, changed], [made, check, changed, *sliders],
                   api_name="make_digits", api_visibility="undocumented")  # benchmarks/classroom.py sends it
    for trigger in (digit.input, variety.release):
        trigger(make, [page.model, digit, variety, changed], [made, check, changed, *sliders], api_name=False)
    use_btn.click(use_digit, [page.model, page.digit, page.source, changed], [check, changed, *sliders],
                  api_name=False)
    for s in sliders:  # drawn in the browser while dragging, as Generate's sliders are
        s.input(None, sliders, None, js=MOVE, api_name=False, show_progress="hidden")
    changed.server_draw(change, [page.model, changed, *sliders], changed, api_name=False, show_progress="hidden",
                        trigger_mode="always_last")


# A slider moved: the browser moves the first digit's code along each slider's direction and redraws it.
MOVE = "(...amounts) => { window.vaeDraw.get('make-changed').move(amounts); }"


def _class_radio(name: str, value):
    """The classes of the model shown, in words ("digit", or "class" with their names); the choice kept
    where the model has it."""
    return class_menu(name, value, FIRST_CLASS, label="digit" if CTX.kind(name).digits else "class")


def maker(name: str) -> str:
    """The model that makes digits: the one shown, unless it has only 2 numbers per digit, where the
    classes overlap too much (about half its made digits read back as another): then its dataset's main
    model."""
    main = CTX.main_of(name)
    return main if get_model(name).latent_dim <= 2 and main else name


def make_shown(name: str, digit, variety, shown=None):
    """The view drawn for the model shown: its classes in the menu (the choice kept where it has it), and
    new ones made of the class chosen."""
    radio = _class_radio(name, digit)
    return (radio, *make(name, radio["value"], variety, shown))


def _changeable(used: str, z: torch.Tensor, shown) -> dict:
    """The first digit as the sliders change it: its code, and each slider's step (one standard deviation of
    its property among real digits, along its direction), for the browser to move it."""
    c = concepts_of(used)
    steps = [(c.directions[i] * c.per_unit[i]).tolist() for i in range(len(concepts.PROPERTIES))]
    return picture_value(used, z[:1], shown, steps=steps)


@torch.no_grad()
def make(name: str, digit, variety, shown=None):
    """New digits of a class: codes drawn from the spread of its codes, decoded, and checked by the model."""
    need_test_images(name)
    kind = CTX.kind(name)
    d = check_class(name, digit if digit is not None else 0, "the class to make")
    v = VARIETY.check(variety, "variety")
    used = maker(name)
    model, c = get_model(used), concepts_of(used)
    z = c.sample(d, MADE, v)
    drawn = latent.decode_images(model, z)
    back, _ = model.encode(drawn)
    right = int((c.classify(back.numpy()) == d).sum())
    # Said as a reading, not a verdict: the model reading back its own drawings is easily pleased, so the
    # visitor judges too.
    count = f"all {MADE}" if right == MADE else f"{right} of {MADE}"
    check = (f"Reading them back, the model takes **{count}** for {kind.a(d)}. It is easily fooled by its own "
             f"drawings: do they look like {kind.a(d)} to you?")
    if used != name:
        check += kind.say(f"  \n*Made by **{used}** ({get_model(used).latent_dim} numbers per digit): with only 2 "
                          f"numbers, {name}'s digits overlap too much to make a chosen one reliably.*")
    return (images.grid(drawn, ncols=MADE // 2, factor=4), check, _changeable(used, z, shown),
            *[CHANGE.default] * len(concepts.PROPERTIES))


@torch.no_grad()
def use_digit(name: str, digit: list | None, source: str, shown=None):
    """The Reconstruct tab's digit (the visitor's own, or the one it opens on) becomes the one the sliders change."""
    digit, source = current_image(name, digit, source)
    if not digit:
        raise refuse(CTX.kind(name).say("Pick, draw or upload a digit in the Reconstruct tab first."))
    used = maker(name)
    mu, _ = get_model(used).encode(digit_tensor(digit))
    return (f"The sliders now change **{source or 'your digit'}**, as the model draws it back.",
            _changeable(used, mu, shown), *[CHANGE.default] * len(concepts.PROPERTIES))


@torch.no_grad()
def change(name: str, shown, *amounts):
    """The browser cannot draw yet: the server draws the first made digit, moved along each property's
    direction by its slider (in standard deviations)."""
    if not isinstance(shown, dict) or not shown.get("codes"):
        raise refuse("Make some digits first.")
    used = maker(name)
    model, c = get_model(used), concepts_of(used)
    z = torch.tensor(shown["codes"][:1], dtype=torch.float32)
    if z.shape[1] != model.latent_dim:
        raise refuse("These digits were made by another model: make new ones.")
    z = z.clamp(-CODE_LIMIT, CODE_LIMIT)
    moved = z.clone()
    for prop, amount in zip(concepts.PROPERTIES, amounts):
        moved = c.move(moved, prop, CHANGE.check(amount, prop))
    value = _changeable(used, z, None)
    value["pixels"] = picture_value(used, moved)["pixels"]
    return value

