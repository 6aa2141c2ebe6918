"""The Reconstruct view."""

import gradio as gr
import numpy as np
import pytest

from conftest import MAIN
from ui import common
from ui.views import reconstruct


def test_any_digit_morphs_into_the_digit_chosen_on_the_map_and_as_an_animation(mnist):
    digit = (mnist.test_images[0].float() / 255).tolist()  # a 7
    fig, words, animation = reconstruct.morph(MAIN, digit, "test image #0", 3)
    walk = [t for t in fig.data if t.name == "morph into a 3"][0]
    assert len(walk.x) == reconstruct.MORPH_STEPS and walk.mode == "lines+markers"
    assert words.startswith("**Test image #0 → a 3** in 16 steps")
    assert animation["animate"] and len(animation["codes"]) == len(animation["pixels"]) == reconstruct.MORPH_STEPS
    assert list(walk.x) == pytest.approx([p[0] for p in common.project(MAIN, np.array(animation["codes"]))])
    local = {"decoder": animation["decoder"], "codes": None, "local": animation["decoder"]}
    assert reconstruct.morph(MAIN, digit, "test image #0", 3, local)[2]["pixels"] is None  # the page draws it
    with pytest.raises(gr.Error, match="Pick, draw or upload a digit first"):
        reconstruct.morph(MAIN, None, "", 3)
    with pytest.raises(gr.Error, match="between 0 and 9"):
        reconstruct.morph(MAIN, digit, "test image #0", 12)
