"""The Make a digit view."""

import re

import gradio as gr
import numpy as np
import pytest

from conftest import MAIN
from ui import common, drawing
from ui.views import interpolate, make
from vae_core import concepts, images


def _drawn(value) -> np.ndarray:
    """The first picture of a DigitCanvas value, in [0, 1]."""
    return drawing.as_array(value)[0].astype(np.float32) / 255


def test_make_a_digit_makes_that_digit_and_its_sliders_do_what_they_say(mnist):
    grid, check, first, *slider_values = make.make(MAIN, "3", 1.0)
    assert slider_values == [0.0] * 4 and len(first["codes"]) == 1 and len(first["steps"]) == 4
    assert grid.shape == images.grid(np.zeros((8, 1, 28, 28)), ncols=4, factor=4).shape  # 2 rows of 4
    assert re.search(r"takes \*\*(all 8|\d of 8)\*\* for a 3", check)
    base = concepts.measure(_drawn(first))
    bolder, thinner = (make.change(MAIN, first, s, 0, 0, 0) for s in (2.0, -2.0))
    assert bolder["codes"] == first["codes"]  # the server draws the moved code; the base stays for the sliders
    thick = [concepts.measure(_drawn(v))["thickness"][0] for v in (bolder, thinner)]
    assert thick[0] > base["thickness"][0] > thick[1]  # "bolder" is bolder, "thinner" thinner
    # The browser moves the code the same way (drawing.js's codeFor, drawing.moved_code here).
    moved = drawing.moved_code(first, [2.0, 0, 0, 0])
    assert _drawn(drawing.picture_value(MAIN, moved)) == pytest.approx(_drawn(bolder), abs=1 / 255)
    with pytest.raises(gr.Error, match="variety"):
        make.make(MAIN, "3", 5.0)
    with pytest.raises(gr.Error, match="Make some digits first"):
        make.change(MAIN, None, 1, 0, 0, 0)


def test_a_two_number_model_hands_making_digits_to_the_main_model(mnist):
    _, check, first, *_ = make.make("mnist-z2", "3", 1.0)
    assert len(first["codes"][0]) == 32 and "Made by **mnist-z32**" in check
    assert first["decoder"] == drawing.decoder_url(MAIN)  # drawn by the model that made it
    assert _drawn(make.change("mnist-z2", first, 0, 1.0, 0, 0)).shape == (28, 28)


def test_the_sliders_change_the_visitors_own_digit_too(mnist):
    digit = common.digit_from_test_set(MAIN, 0)  # a 7
    words, shown, *sliders = make.use_digit(MAIN, digit, "test image #0")
    assert len(shown["codes"]) == 1 and "test image #0" in words and sliders == [0.0] * 4
    pictures = [_drawn(make.change(MAIN, shown, 0, s, 0, 0)) for s in (-2.0, 2.0)]
    leaning = concepts.measure(np.stack(pictures))["slant"]
    assert leaning[1] > leaning[0]  # "leaning right" leans it right
    # Before the visitor has chosen one, "the Reconstruct tab's digit" is the one that tab opens on.
    first = common.gallery_indices(MAIN)[0]
    words, shown, *_ = make.use_digit(MAIN, None, "")
    assert f"test image #{first}**" in words and len(shown["codes"][0]) == 32
    digit, _, source = interpolate.use_current(MAIN, None, "")
    assert digit == common.digit_from_test_set(MAIN, first) and source == f"test image #{first}"


def test_the_server_sends_no_pictures_once_the_page_draws_them_itself(mnist):
    _, _, first, *_ = make.make(MAIN, "3", 1.0)
    local = {**first, "local": first["decoder"]}
    _, _, again, *_ = make.make(MAIN, "7", 1.0, local)
    assert again["pixels"] is None and again["codes"] != first["codes"]
