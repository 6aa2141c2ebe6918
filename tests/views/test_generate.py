"""The Generate view."""


import gradio as gr
import pytest
import torch

from conftest import MAIN
from ui import drawing
from ui.state import CTX
from ui.views import generate
from vae_core import latent


def test_a_random_digit_puts_its_sliders_on_their_step(mnist):
    torch.manual_seed(1)
    shown = {"codes": [[0.0] * 32], "dims": [0, 1, 2]}
    value, *sliders = generate.random_point(MAIN, shown, 1.0)
    values = [s["value"] for s in sliders[:3]]
    assert all(round(v, 2) == v for v in values)  # a reviewer saw "-1.301" on a 0.01 slider
    assert [round(value["codes"][0][d], 2) for d in range(3)] == values  # the digit drawn is the one shown
    assert value["dims"] == [0, 1, 2] and value["pixels"]


def test_the_server_draws_what_the_sliders_set_where_the_browser_cannot(mnist):
    value, _, *sliders = generate.setup(MAIN)
    dims = value["dims"]
    assert len(dims) == generate.MAX_SLIDERS and [s["value"] for s in sliders] == \
        [round(value["codes"][0][d], 2) for d in dims]
    moved = generate.draw_moved(MAIN, value, *[1.5] * len(dims))
    z = torch.tensor(value["codes"][0])
    z[dims] = 1.5
    expected = latent.decode_images(CTX.registry.model(MAIN), z[None])[0, 0].numpy()
    assert abs(drawing.as_array(moved)[0] / 255 - expected).max() <= 0.5 / 255 + 1e-6
    with pytest.raises(gr.Error, match="between -3 and 3"):
        generate.draw_moved(MAIN, value, 9.0)
    other = generate.draw_moved(MAIN, {"codes": [[0.0, 0.0]], "dims": [0, 1]}, 1.0, 1.0)  # another model's code
    assert len(other["codes"][0]) == 32  # starts from the middle, not an error
