"""What several views share (ui/common.py, ui/api.py): validators, sentences, downloads, recognition, maps."""

import shutil
import time

import gradio as gr
import numpy as np
import pytest
import torch

from conftest import MAIN
from ui import api, common
from ui.common import digit_tensor
from ui.state import CTX
from vae_core import data


@pytest.mark.parametrize("image, message", [
    ([[0.5] * 5], "got 1 rows"),
    ([[0.5] * 28] * 2000, "got 2000 rows"),
    ("a string", "got str rows"),
    ([[2.0] * 28] * 28, "values range from 2 to 2"),
    ([["x"] * 28] * 28, "some values are not numbers"),
    ([[10**400] * 28] * 28, "some values are not numbers"),
])
def test_the_digit_validator_says_what_was_wrong(image, message):
    with pytest.raises(gr.Error) as e:
        digit_tensor(image)
    assert "28 rows of 28 numbers between 0 and 1" in str(e.value) and message in str(e.value)


def test_a_code_too_large_for_a_float_gets_a_sentence_not_an_empty_error():
    with pytest.raises(gr.Error, match=r"z\[0\] must be a number between -10 and 10"):
        api.api_decode(MAIN, [10**400] + [0.0] * 31)


def test_a_model_damaged_after_listing_is_refused_without_the_servers_folders(tmp_path, monkeypatch, caplog):
    from safetensors.torch import save_file
    from vae_core import VAE, ModelConfig, save_checkpoint
    from ui import state

    monkeypatch.setenv("VAE_RUNS_DIR", str(tmp_path / "runs"))
    ctx = state.Context(tmp_path)
    model = VAE(ModelConfig(latent_dim=4, width=8))
    save_checkpoint(tmp_path / "runs" / "spoilt", model, {"beta": 1.0})
    ctx.registry.add(tmp_path / "runs" / "spoilt", owner="v")
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    next(iter(weights.values())).fill_(float("nan"))  # the header still reads: only loading finds it
    save_file(weights, tmp_path / "runs" / "spoilt" / "model.safetensors")
    monkeypatch.setattr(common, "CTX", ctx)
    with caplog.at_level("WARNING", logger="vae_explorer"), pytest.raises(gr.Error) as refused:
        common.get_model("spoilt")
    assert "'spoilt' cannot be loaded: model.safetensors:" in refused.value.message
    assert "not finite" in refused.value.message and str(tmp_path) not in refused.value.message
    assert str(tmp_path) in caplog.text  # whoever runs the server can still find the file


def test_messages_for_the_page_name_files_not_the_servers_folders():
    assert common.without_folders("/srv/app/checkpoints/x/model.safetensors: not finite") == "model.safetensors: not finite"
    assert (common.without_folders("OSError: [Errno 28] No space left on device: '/tmp/runs/a-1/model.tmp'")
            == "OSError: [Errno 28] No space left on device: 'model.tmp'")
    assert common.without_folders("files in ~/data/mnist (or ./data/)") == "files in mnist (or )"
    kept = "the loss became NaN at step 12 of epoch 1/3 (β 0.5, 2.5e-4)"
    assert common.without_folders(kept) == kept  # a fraction is not a folder


def test_downloads_share_one_folder_that_keeps_only_the_newest(tmp_path, monkeypatch):
    monkeypatch.setattr(CTX.registry, "cache_dir", tmp_path)
    monkeypatch.setattr(common, "DOWNLOADS_KEPT", 3)
    paths = []
    for i in range(5):
        paths.append(common.download_file(f"strip {i}".encode(), "interpolation.png"))
        time.sleep(0.02)
    assert common.download_file(b"strip 4", "interpolation.png") == paths[-1]  # same content, same file
    kept = sorted(p.read_bytes() for p in (tmp_path / "downloads").glob("*/*"))
    assert kept == [b"strip 2", b"strip 3", b"strip 4"]



def test_a_model_name_that_is_not_a_string_is_named_as_such():
    with pytest.raises(gr.Error, match="model must be a model's name, such as 'mnist-z32', not a list"):
        api.api_decode(["mnist-z32"], [0.0] * 32)


def test_a_digit_is_recognised_and_noise_is_not(mnist):
    digit = common.recognise(MAIN, data.to_float(mnist.test_images[3:4]))  # a 0
    assert digit["digit"] == int(mnist.test_labels[3]) and digit["percentile"] > 1
    assert "It looks most like a 0" in common.recognition_words(digit)
    noise = common.recognise(MAIN, torch.rand(1, 1, 28, 28, generator=torch.Generator().manual_seed(0)))
    assert noise["percentile"] < common.UNLIKE_A_DIGIT
    assert "probably not a digit" in common.recognition_words(noise)


def test_the_2d_maps_digit_regions_hold_most_of_their_digits(mnist):
    regions = common.class_regions("mnist-z2")
    assert len(regions) == 10 and all(np.allclose(r[0], r[-1]) for r in regions)  # ten closed outlines
    mu = CTX.registry.embedding("mnist-z2", CTX.test_images(MAIN)).mu
    labels = CTX.test_labels(MAIN).numpy()
    c = common.concepts_of("mnist-z2")
    for d in range(10):
        inside = np.linalg.norm(np.linalg.solve(c.chols[d], (mu[labels == d] - c.means[d]).T), axis=0) <= 2
        assert inside.mean() > 0.6, d  # the outline is 2 standard deviations: about 86% for a Gaussian
    figure = common.map_figure("mnist-z2", "PCA", webgl=True)
    assert [s.name for s in figure.layout.shapes] == [f"region {d}" for d in range(10)]
    assert not common.map_figure("mnist-z2", "PCA").layout.shapes  # the small maps stay plain


def test_a_damaged_concepts_file_is_refitted_not_fatal(mnist, tmp_path, monkeypatch, caplog):
    CTX.registry.model("mnist-z32-beta4")  # loaded from its own folder first
    entry = CTX.registry.entry("mnist-z32-beta4")  # a model shipped without concepts: fitted on test digits
    shutil.copytree(entry.path, tmp_path, dirs_exist_ok=True)
    monkeypatch.setattr(entry, "path", str(tmp_path))
    monkeypatch.setattr(entry, "memos", {})
    (tmp_path / "concepts.safetensors").write_bytes(b"not safetensors")
    with caplog.at_level("WARNING", logger="vae_explorer"):
        c = common.concepts_of("mnist-z32-beta4")
    assert "unreadable concepts.safetensors" in caplog.text
    assert len(c.test_bounds) == common.SCORED_DIGITS and c.means.shape == (10, 32)
