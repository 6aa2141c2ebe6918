"""Class regions, property directions and digit-likeness in a model's latent space (vae_core.concepts)."""

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw
from safetensors.numpy import save_file

from benchmarks.concepts import auroc, non_digits
from conftest import MAIN, ROOT
from vae_core import concepts, data, latent, load_model


def _picture(draw) -> np.ndarray:
    im = Image.new("L", (28, 28), 0)
    draw(ImageDraw.Draw(im))
    return np.asarray(im, dtype=np.float32) / 255


def test_measurements_read_thickness_slant_and_size_off_the_ink():
    thin = _picture(lambda d: d.line([(14, 4), (14, 23)], fill=255, width=2))
    thick = _picture(lambda d: d.line([(14, 4), (14, 23)], fill=255, width=6))
    leaning_right = _picture(lambda d: d.line([(9, 23), (19, 4)], fill=255, width=3))
    leaning_left = _picture(lambda d: d.line([(19, 23), (9, 4)], fill=255, width=3))
    box = _picture(lambda d: d.rectangle([5, 8, 16, 19], outline=255, width=2))
    m = concepts.measure(np.stack([thin, thick, leaning_right, leaning_left, box]))
    assert m["thickness"][1] > 2 * m["thickness"][0]
    assert m["slant"][2] > 0.3 and m["slant"][3] < -0.3 and abs(m["slant"][0]) < 0.05
    assert (m["width"][4], m["height"][4]) == (12, 12)
    assert m["height"][0] == 20


@pytest.fixture(scope="module")
def fitted(mnist):
    model = load_model(ROOT / "checkpoints" / MAIN)
    return model, concepts.fit(model, mnist.train_images[:3000], mnist.train_labels[:3000], mnist.test_images[:300])


def test_made_digits_are_of_the_class_asked_for(fitted):
    model, c = fitted
    g = torch.Generator().manual_seed(0)
    for digit in (1, 3, 8):
        with torch.no_grad():
            back, _ = model.encode(latent.decode_images(model, c.sample(digit, 20, 1.0, g)))
        assert (c.classify(back.numpy()) == digit).mean() >= 0.8
    assert torch.allclose(c.sample(4, 3, 0.0), torch.from_numpy(c.means[4]).expand(3, -1))  # variety 0: the centre


def test_the_slant_direction_slants_and_the_thickness_direction_thickens(fitted, mnist):
    model, c = fitted
    with torch.no_grad():
        mu, _ = model.encode(mnist.test_images[:40].float().div(255).unsqueeze(1))
        for prop in ("slant", "thickness"):
            low, high = (concepts.measure(latent.decode_images(model, c.move(mu, prop, s)))[prop] for s in (-2, 2))
            assert (high > low).mean() >= 0.9, prop


def test_digits_score_as_more_typical_than_non_digits_and_scores_are_repeatable(fitted, mnist):
    model, c = fitted
    *_, digits = concepts.score(model, mnist.test_images[300:400], c)
    odd = non_digits(6)
    *_, noise = concepts.score(model, torch.from_numpy(np.stack(odd["noise"])), c)
    *_, shapes = concepts.score(model, torch.from_numpy(np.stack(odd["shape"])), c)
    *_, letters = concepts.score(model, torch.from_numpy(np.stack(odd["letter"])), c)
    assert auroc(digits, noise) > 0.99 and auroc(digits, shapes) > 0.8 and auroc(digits, letters) > 0.8
    again = concepts.score(model, mnist.test_images[300:305], c)
    # same image, same score (to float rounding: a batch of another size takes other kernels)
    np.testing.assert_allclose(again[2], digits[:5], rtol=0, atol=1e-5)
    assert c.percentile(-1e9, -1e9) == 0 and c.percentile(1e9, 1e9) == 100
    b, t = concepts.bounds(model, mnist.test_images[300:400], c), concepts.typicality(model, mnist.test_images[300:400], c)
    i = int(np.argsort(digits)[50])  # the median digit sits mid-way among the test digits
    assert 20 < c.percentile(b[i], t[i]) < 80


def test_the_codes_typicality_counts_only_where_codes_have_room_to_fall_outside_the_digits(fitted, mnist):
    _, c = fitted
    assert c.typicality_weight == 1.0 and len(c.test_typicality) == len(c.test_bounds)
    flat = concepts.fit(load_model(ROOT / "checkpoints" / "mnist-z2"), mnist.train_images[:500],
                        mnist.train_labels[:500], mnist.test_images[:100])
    assert flat.typicality_weight == 0.0  # a 2-D model's classes tile its plane: the bound alone counts
    assert np.allclose(flat.likeness(flat.test_bounds, flat.test_typicality - 1e6),
                       flat.likeness(flat.test_bounds, flat.test_typicality))


def test_concepts_survive_a_save_and_load(fitted, tmp_path):
    _, c = fitted
    c.save(tmp_path / "concepts.safetensors")
    back = concepts.Concepts.load(tmp_path / "concepts.safetensors")
    for field in ("means", "chols", "directions", "per_unit", "test_bounds", "test_typicality", "typicality_weight",
                  "sample_chols"):
        assert np.array_equal(getattr(back, field), getattr(c, field))


def test_new_digits_are_drawn_from_the_spread_of_the_class_means_and_older_files_from_the_class_gaussian(
        fitted, mnist, tmp_path):
    model, c = fitted
    with torch.no_grad():
        mu, _ = model.encode(data.to_float(mnist.train_images[:3000][mnist.train_labels[:3000] == 3]))
    made = c.sample(3, 20000, 1.0, torch.Generator().manual_seed(0)).double().numpy()
    # The made codes spread as the encoder's means of real 3s do, not wider by the encoder's uncertainty.
    assert np.trace(np.cov(made.T)) == pytest.approx(np.trace(np.cov(mu.double().numpy().T)), rel=0.05)
    assert np.trace(np.cov(made.T)) < 0.8 * np.trace(c.chols[3] @ c.chols[3].T)
    older = {f: getattr(c, f) for f in ("means", "chols", "directions", "per_unit", "test_bounds", "test_typicality")}
    save_file({**older, "typicality_weight": np.array([c.typicality_weight], dtype=np.float32)},
              str(tmp_path / "older.safetensors"))
    assert np.array_equal(concepts.Concepts.load(tmp_path / "older.safetensors").sample_chols, c.chols)


def test_auroc_is_the_chance_a_positive_outranks_a_negative():
    assert auroc(np.array([3.0, 4.0]), np.array([1.0, 2.0])) == 1.0
    assert auroc(np.array([1.0, 2.0]), np.array([3.0, 4.0])) == 0.0
    assert auroc(np.array([1.0, 3.0]), np.array([2.0, 2.0])) == 0.5
    assert auroc(np.array([2.0]), np.array([2.0])) == 0.5


def test_a_digit_morphs_from_itself_into_a_typical_digit_of_the_class_chosen(fitted, mnist):
    model, c = fitted
    seven = mnist.test_images[0:1].float().div(255).unsqueeze(1)  # test image #0 is a 7
    assert int(mnist.test_labels[0]) == 7
    path, frames = concepts.morph(model, seven, c, 3, steps=12)
    assert path.shape == (12, 32) and frames.shape == (12, 1, 28, 28)
    with torch.no_grad():
        mu, _ = model.encode(seven)
        back, _ = model.encode(frames)
    assert torch.allclose(path[0], mu[0]) and np.allclose(path[-1].numpy(), c.means[3], atol=1e-5)
    assert torch.allclose(frames[0], latent.decode_images(model, mu))  # it starts as the model's reading of the 7
    seen = c.classify(back.numpy())
    assert seen[0] == 7 and seen[-1] == 3  # ... and ends as a 3
    with pytest.raises(ValueError):
        concepts.morph(model, seven, c, 10)
