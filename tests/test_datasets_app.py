"""The app follows a model's dataset: Fashion-MNIST's shipped models, and a model trained on a folder of
the user's own images, each shown with its own test images, class names, colours and words."""

import os
import subprocess
import sys

import pytest
import torch

import app  # builds the page, as the app does
from conftest import ROOT, picture_folder
from ui import common
from ui.state import CTX, Context
from ui.words import Kind
from ui.views import beta, generate, interpolate, latent_map, make, reconstruct, tour
from vae_core import data

FASHION_2D, FASHION = "fashion-z2", "fashion-z32"
SHAPES = ("circle", "square", "triangle")


@pytest.fixture(scope="module")
def fashion():
    if not os.environ.get("VAE_FASHION_DIR") and not os.environ.get("CI"):
        pytest.skip("Fashion-MNIST not found: set VAE_FASHION_DIR")
    assert {FASHION_2D, FASHION} <= set(CTX.registry.names())
    return data.load_dataset("fashion-mnist", download=False)


@pytest.fixture(scope="module")
def folder_model(tmp_path_factory):
    """A 2-D model trained from the command line on a folder of three kinds of drawn shapes, joined to the
    app's model list as `--model` does."""
    tmp = tmp_path_factory.mktemp("mine")
    folder = picture_folder(tmp / "my-shapes", SHAPES, each=40)
    run = subprocess.run([sys.executable, "-m", "vae_core.train", "--dataset", str(folder), "--latent-dim", "2",
                          "--epochs", "4", "--batch-size", "16", "--val-size", "0", "--device", "cpu", "--quiet",
                          "--out", str(tmp / "shapes-z2")], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    CTX.registry.add_extra("shapes-z2", tmp / "shapes-z2")
    return "shapes-z2"


def test_a_fashion_model_speaks_of_items_and_their_class_names(fashion):
    kind = CTX.kind(FASHION)
    assert kind.classes == fashion.classes and kind.noun == "item" and kind.a(9) == "an ankle boot"
    assert CTX.kind("mnist-z32").a(8) == "an 8" and CTX.kind("no such model").dataset == "mnist"
    # Its gallery is of Fashion-MNIST's test images, captioned with their classes.
    gallery = reconstruct.gallery_items(FASHION)
    i = reconstruct.gallery_indices(FASHION)[0]
    assert len(gallery["value"]) == common.GALLERY_SIZE and gallery["label"] == "click an item"
    assert gallery["value"][0][1] == kind.plain(int(fashion.test_labels[i]))  # "trouser"
    digit, source, *shown = reconstruct.show_current(FASHION, None, "")
    assert source == f"Fashion-MNIST test image #{i}"
    assert torch.allclose(torch.tensor(digit), fashion.test_images[i].float() / 255, atol=1e-6)
    words = shown[4]
    assert "It looks most like a" in words and "real items of Fashion-MNIST" in words and "digit" not in words
    # The model's class menus and the made items use its classes.
    assert [label for label, _ in common.class_choices(FASHION)][:2] == ["T-shirt/top", "Trouser"]
    radio = make._class_radio(FASHION, "3")
    assert radio["label"] == "class" and radio["value"] == "3"
    made = make.make(FASHION, "7", 0.5)
    assert "for a sneaker." in made[1]
    # Its sliders speak of clothes, shown light on dark: more ink is brighter (a reviewer saw "darker" whiten a T-shirt).
    words = [kind.say(make.WORDS[p]) for p in ("thickness", "slant")] + [kind.say(make.CHANGE_NOTE)]
    assert words[:2] == ["dimmer ◀ brightness ▶ brighter", "tilted left ◀ tilt ▶ tilted right"]
    assert "(how bright, how tilted, how big)" in words[2] and "ink" not in " ".join(words)
    assert make.make_shown(FASHION, "3", 1.0)[0]["choices"][3] == ("Dress", "3")
    # A 2-D Fashion model makes its items with Fashion's main model, not MNIST's.
    assert make.maker(FASHION_2D) == FASHION and make.maker("mnist-z2") == "mnist-z32"
    # Its map: one trace per class, named by it, with a legend of items.
    fig = common.map_figure(FASHION_2D, "PCA", webgl=True)
    names = [t.name for t in fig.data if t.type == "scattergl"]
    assert names == list(fashion.classes) and fig.layout.legend.title.text.endswith("<br>item:")
    assert "Every dot is one real item" in latent_map.show_map(FASHION, "PCA", False)[1]
    # Morph into a class; the words say which.
    morph_map, words, frames = reconstruct.morph(FASHION, digit, source, "5")
    assert "→ a sandal" in words and morph_map is not None and len(frames["codes"]) == reconstruct.MORPH_STEPS
    with pytest.raises(gr_error()):
        reconstruct.morph(FASHION, digit, source, "10")  # Fashion-MNIST has classes 0 to 9 only


def test_switching_to_another_dataset_replaces_a_test_image_of_the_old_one(fashion, mnist):
    digit, source, *_ = reconstruct.show_current("mnist-z2", None, "")
    assert source.startswith("test image #")
    digit, source, *_ = reconstruct.show_current(FASHION, digit, source)
    assert source.startswith("Fashion-MNIST test image #")  # the gallery's first, not an MNIST digit
    again, kept, *_ = reconstruct.show_current(FASHION_2D, digit, source)
    assert kept == source and again == digit  # the same dataset: the same image
    drawing, drawn_source, *_ = reconstruct.show_current(FASHION, digit, "your drawing")
    assert drawn_source == "your drawing"  # a visitor's own picture stays, whatever the model
    # Interpolate's ends are replaced the same way, and its menus list the model's classes.
    ends = interpolate.again(FASHION, digit, digit, "test image #3, a 0", f"{source}, a bag", "7", "8", 4, "linear")
    assert ends[1]["value"] == "8" and ends[1]["choices"][8] == ("Bag", "8")
    assert ends[4].startswith("Fashion-MNIST test image #") and ends[5] == digit
    # A's new picture is a trouser, and its menu says so (it kept MNIST's 7 in its place: "Sneaker").
    assert ends[4].endswith("a trouser") and ends[0]["value"] == "1"
    menu = common.class_menu(FASHION, "1", "1")
    assert menu["value"] == "1" and menu["choices"][1] == ("Trouser", "1")
    assert interpolate.random_digit("9", FASHION)[2].endswith("an ankle boot")


def test_the_tour_and_the_page_tell_a_fashion_model_in_its_own_words(fashion):
    step = tour.show_step(0, FASHION)
    assert "Every item becomes a point" in step[2] and step[3] is not None
    walk = tour.show_step(2, FASHION)
    assert "the codes of a pullover and of a dress" in walk[2]
    betas = tour.show_step(5, FASHION)
    assert "(Shown here on the digit models.)" in betas[2]  # the β ladder is MNIST's
    assert "Every digit becomes a point" in tour.show_step(0, "mnist-z32")[2]
    assert "real pullover" in generate.setup(FASHION)[1]  # the sliders start on a real test item
    from ui.page import header_words_of, intro, model_summary
    summary = model_summary(FASHION)
    assert "describes each item" in summary and "trained on Fashion-MNIST" in summary
    header = intro(FASHION)  # the header and the views' names follow the model too
    assert "the training images of Fashion-MNIST" in header and "digit" not in header
    assert "60,000 handwritten digits" in intro("mnist-z32")
    _, nav, *tabs = header_words_of(FASHION, app.VIEWS)
    assert ("Make an item", "make") in nav["choices"] and {"label": "Make an item", "__type__": "update"} in tabs
    assert ("Make a digit", "make") in header_words_of("mnist-z32", app.VIEWS)[1]["choices"]
    assert any(label.startswith(f"{FASHION} (Fashion-MNIST,") for label, _ in CTX.model_choices())
    assert FASHION not in [r.name for r in beta.ladder()]  # the β ladder is MNIST's main model's family


def test_a_model_of_the_users_own_folder_shows_its_own_images_and_classes(folder_model):
    kind = CTX.kind(folder_model)
    assert kind.classes == SHAPES and kind.noun == "image" and kind.a(1) == "“square”"
    test = CTX.test_set(folder_model)
    assert test is not None and len(test.images) == 18  # 15% of the 120 images, a fixed split
    gallery = reconstruct.gallery_items(folder_model)["value"]
    assert len(gallery) == 18 and all(any(f"“{s}”" in caption for s in SHAPES) for _, caption in gallery)
    digit, source, *shown = reconstruct.show_current(folder_model, None, "")
    assert source.startswith("test image #") and source.endswith("of your folder “my-shapes”")
    assert "It looks most like “" in shown[4]  # recognised against its own classes, fitted on its test split
    fig = common.map_figure(folder_model, "PCA", webgl=True)
    assert [t.name for t in fig.data if t.type == "scattergl"] == list(SHAPES)
    assert "→ “triangle”" in reconstruct.morph(folder_model, digit, source, "2")[1]
    made = make.make(folder_model, "0", 1.0)
    assert "for “circle”." in made[1]
    with pytest.raises(gr_error(), match="between 0 and 2"):
        make.make(folder_model, "3", 1.0)  # three classes only
    assert "Every image becomes a point" in tour.show_step(0, folder_model)[2]
    assert tour.show_step(0, folder_model)[3] is not None  # told with the model itself: it is 2-D


def test_missing_test_images_of_a_dataset_are_one_clear_sentence(monkeypatch):
    def nowhere(dataset, data_dir=None):
        raise data.DataError(f"{dataset}: not here")
    monkeypatch.setattr(data, "load_test_split", nowhere)
    fresh = Context(ROOT)
    monkeypatch.setattr(common, "CTX", fresh)
    name = next(n for n in fresh.registry.names() if fresh.kind(n).dataset == "fashion-mnist")
    assert fresh.test_set(name) is None
    with pytest.raises(gr_error(), match="VAE_FASHION_DIR"):
        common.need_test_images(name)
    assert common.current_image(name, None, "") == (None, "")
    with pytest.raises(gr_error(), match="upload an item in the Reconstruct tab"):
        make.use_digit(name, None, "")
    assert "MNIST test set" in fresh.missing("mnist-z2") and "folder" in Kind.of("/x/y").title


def gr_error():
    import gradio as gr
    return gr.Error


def test_comparing_models_of_two_datasets_says_their_numbers_do_not_compare(fashion):
    *_, same = beta.compare("mnist-z32", "mnist-z32-beta8")
    *_, across = beta.compare("mnist-z32", FASHION_2D)
    assert "do not compare" not in same
    assert "learnt different pictures (MNIST and Fashion-MNIST)" in across
