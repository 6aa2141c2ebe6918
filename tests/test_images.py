"""images.py: visitors' drawings and photos made MNIST-like, files opened safely, pictures out."""

import io

import numpy as np
import pytest
import torch
from PIL import Image

from vae_core import images


def _drawn_digit(size=280, background=255, ink=0, rgba=False):
    a = np.full((size, size), background, dtype=np.uint8)
    a[size // 5: size * 4 // 5, size // 2 - size // 20: size // 2 + size // 20] = ink  # a "1"
    if rgba:
        alpha = np.where(a == ink, 255, 0).astype(np.uint8)
        return np.dstack([a, a, a, alpha])
    return a


@pytest.mark.parametrize("image", [
    _drawn_digit(),  # dark ink on white paper
    _drawn_digit(background=0, ink=255),  # MNIST-like already
    _drawn_digit(rgba=True),  # a sketchpad: dark strokes on a transparent canvas
    np.dstack([_drawn_digit()] * 3),  # colour
])
def test_user_images_become_mnist_like(image):
    x = images.prepare_user_image(image)
    assert x.shape == (28, 28) and x.min() >= 0 and x.max() <= 1
    ys, xs = np.nonzero(x > 0.2)
    assert 16 <= ys.max() - ys.min() + 1 <= 21  # fits the 20-pixel box, like MNIST
    com = (np.indices(x.shape) * x).sum(axis=(1, 2)) / x.sum()
    assert np.allclose(com, 13.5, atol=1.0)  # centre of mass in the middle
    assert x[0].max() == 0 and x[:, 0].max() == 0  # white on black


@pytest.mark.parametrize("image, message", [
    (None, "No image"),
    (np.full((100, 100), 255, dtype=np.uint8), "No digit"),
    (np.zeros((100, 100, 4), dtype=np.uint8), "empty"),
    (np.zeros((5000, 10), dtype=np.uint8), "limit"),
    (np.zeros((3, 3, 7), dtype=np.uint8), "Not an image"),
])
def test_bad_user_images_get_clear_messages(image, message):
    with pytest.raises(ValueError, match=message):
        images.prepare_user_image(image)


def test_uploaded_files_are_opened_as_images_only(tmp_path):
    good = tmp_path / "digit.png"
    Image.fromarray(_drawn_digit()).save(good)
    assert images.load_image_file(good).size == (280, 280)
    fake = tmp_path / "model.png"
    fake.write_bytes(b"\x80\x04\x95 this is a pickle, not a picture")
    with pytest.raises(ValueError, match="not an image"):
        images.load_image_file(fake)


def test_png_and_gif_bytes():
    frames = [np.full((10, 10), i * 20, dtype=np.uint8) for i in range(4)]
    gif = Image.open(io.BytesIO(images.gif_bytes(frames)))
    assert gif.format == "GIF" and gif.n_frames == 6  # forward then back
    assert Image.open(io.BytesIO(images.png_bytes(frames[0]))).size == (10, 10)
    g = images.grid(torch.rand(5, 1, 28, 28), ncols=3, factor=2)
    assert g.shape == (2 * (2 * 30 + 2), 2 * (3 * 30 + 2))


def test_a_huge_image_is_refused_from_its_header_before_any_pixel_is_decoded(tmp_path, monkeypatch):
    huge = tmp_path / "huge.png"
    Image.new("L", (5790, 5790), 0).save(huge)  # a small file that would take 33 MB to decode
    assert huge.stat().st_size < 200_000

    def no_decoding(self, *args, **kwargs):
        raise AssertionError("pixels were decoded")
    monkeypatch.setattr("PIL.ImageFile.ImageFile.load", no_decoding)
    with pytest.raises(ValueError, match="5790x5790 pixels; the limit is 4096"):
        images.load_image_file(huge)
    assert Image.MAX_IMAGE_PIXELS == 89478485  # PIL's own global limit is left as it was


def _phone_photo(digit: np.ndarray, rng) -> Image.Image:
    """A handwritten digit as a phone sees it on paper: dark grey ink on grey paper, light falling off
    across the page, sensor noise, turned a few degrees, saved as a JPEG."""
    big = np.asarray(Image.fromarray(255 - digit).resize((224, 224), Image.BILINEAR), np.float32) / 255
    paper, ink = rng.uniform(0.6, 0.85), rng.uniform(0.05, 0.25)
    light = np.linspace(rng.uniform(0.55, 0.8), rng.uniform(1.0, 1.2), 224)
    light = light[None, :] if rng.random() < 0.5 else light[:, None]
    a = (ink + (paper - ink) * big) * light + rng.normal(0, 0.03, big.shape)
    photo = Image.fromarray((np.clip(a, 0, 1) * 255).astype(np.uint8))
    photo = photo.rotate(rng.uniform(-6, 6), fillcolor=int(255 * paper * light.mean())).resize((300, 300))
    buf = io.BytesIO()
    photo.convert("RGB").save(buf, "JPEG", quality=60)
    return Image.open(io.BytesIO(buf.getvalue()))


def test_photos_of_digits_on_paper_are_recognised_after_preparation(mnist):
    from vae_core import load_model
    from vae_core.latent import encode_images
    from pathlib import Path

    model = load_model(Path(__file__).resolve().parents[1] / "checkpoints" / "mnist-z32")
    labels = mnist.test_labels.numpy()
    codes, _ = encode_images(model, mnist.test_images.unsqueeze(1).float() / 255)
    rng = np.random.default_rng(5)
    picked = rng.choice(len(labels), 200, replace=False)
    right = 0
    for i in picked:
        x = torch.tensor(images.prepare_user_image(_phone_photo(mnist.test_images[i].numpy(), rng)))
        mu, _ = model.encode(x.reshape(1, 1, 28, 28))
        distance = ((codes - mu.detach().numpy()) ** 2).sum(1)
        distance[i] = np.inf  # the class of its neighbours among the other test digits
        right += np.bincount(labels[np.argsort(distance)[:10]], minlength=10).argmax() == labels[i]
    assert right / len(picked) >= 0.9, right
