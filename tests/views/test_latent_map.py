"""The latent map view (its clicks in a real browser: tests/browser)."""

import json

import gradio as gr
import torch
import pytest

from conftest import MAIN
from ui import drawing
from ui.state import CTX
from ui.views import latent_map


@pytest.mark.parametrize("payload, message", [
    ("[]", "A map click is a JSON object"),
    ('{"index": "7"}', "There is no test image #7"),
    ('{"index": 99999}', "There is no test image #99999"),
    ("{not json", "unreadable click"),
])
def test_malformed_map_clicks_get_a_sentence(payload, message, mnist):
    CTX.data_dir = None  # the test set from VAE_DATA_DIR
    with pytest.raises(gr.Error, match=message):
        latent_map.map_click(MAIN, payload)


def test_the_main_map_is_made_once_per_model_and_choice_and_ready_before_the_first_visitor(mnist):
    latent_map._maps.clear()
    latent_map.before_serving(MAIN)
    assert len(latent_map._maps) == 1
    first = latent_map.main_map(MAIN, *latent_map.OPENS_ON)
    assert len(latent_map._maps) == 1 and latent_map.main_map(MAIN, *latent_map.OPENS_ON) is first
    pca = latent_map.main_map(MAIN, "PCA", True)
    assert pca is not first and "PCA of the 32-D" in pca.plot and "UMAP of the 32-D" in first.plot
    assert gr.Plot().postprocess(first) is first  # handed to the page as it is
    assert (MAIN, CTX.registry.entry(MAIN).digest, "PCA", True) in latent_map._maps  # new weights, a new map
    latent_map._maps.clear()  # a bounded number kept: a new one pushes out the one least recently asked for
    for i in range(latent_map.MAPS_KEPT):
        latent_map._maps[("old", str(i), "PCA", True)] = pca
    latent_map.main_map(MAIN, "PCA", True)
    assert len(latent_map._maps) == latent_map.MAPS_KEPT
    assert ("old", "0", "PCA", True) not in latent_map._maps and ("old", "1", "PCA", True) in latent_map._maps
    latent_map._maps.clear()


def test_a_click_on_a_dot_shows_its_digit_and_on_empty_space_what_the_decoder_draws_there(mnist):
    image, decoded, text = latent_map.map_click("mnist-z2", json.dumps({"index": 7}))
    assert image["visible"] and "Test image #7" in text and decoded["pixels"]
    hidden, spot, text = latent_map.map_click("mnist-z2", json.dumps({"index": None, "x": 4.0, "y": -4.0}))
    assert not hidden["visible"] and text.startswith("**The spot z = (4.00, -4.00)**")
    assert spot["codes"] == [[4.0, -4.0]] and spot["noun"] == "digit"
    expected = drawing.picture_value("mnist-z2", torch.tensor([[4.0, -4.0]]))["pixels"]
    assert spot["pixels"] == expected
    # On opening, a 2-D map hands the page the decoder that draws spots clicked there; a 32-D map does not.
    spots = latent_map.for_model("mnist-z2", "UMAP", True)[3]
    assert spots == {"decoder": drawing.decoder_url("mnist-z2"), "codes": None, "noun": "digit"}
    assert latent_map.for_model(MAIN, "UMAP", True)[3] is None
