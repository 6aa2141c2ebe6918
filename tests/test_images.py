"""images.py: visitors' drawings and photos made MNIST-like, files opened safely, pictures out."""

import io
import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

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
    # Where the server tightens PIL's limit (ui.guard.bound_image_decoding), PIL refuses first: the visitor
    # still reads the limit, not an exception's name.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", images.MAX_UPLOAD_PIXELS // 2)
    with pytest.raises(ValueError, match="the limit of 4096 pixels a side"):
        images.load_image_file(huge)


def _png16(path, side: int, mode: str = "RGBA", paper: int = 65535, ink: int = 0) -> None:
    """A 16-bit PNG of a dark "1" on light paper, written a row at a time (PIL writes no 16-bit colour)."""
    channels, colour_type = {"L": (1, 0), "LA": (2, 4), "RGB": (3, 2), "RGBA": (4, 6)}[mode]
    colours = channels - mode.endswith("A")
    row = np.full((side, channels), 65535, dtype=">u2")  # opaque, where there is an alpha channel
    row[:, :colours] = paper
    stroke = row.copy()
    stroke[side // 2 - side // 20: side // 2 + side // 20, :colours] = ink
    plain, inked = (b"\0" + r.tobytes() for r in (row, stroke))
    pack = zlib.compressobj(6)
    body = b"".join(pack.compress(inked if side // 5 <= y < side * 4 // 5 else plain) for y in range(side))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", side, side, 16, colour_type, 0, 0, 0)
    Path(path).write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body + pack.flush())
                           + chunk(b"IEND", b""))


@pytest.mark.parametrize("mode", ["RGBA", "RGB", "LA", "L"])
def test_a_16_bit_picture_of_a_digit_is_read_as_its_8_bit_twin(tmp_path, mode):
    path = tmp_path / "digit.png"
    _png16(path, 600, mode, paper=50000, ink=8000)  # grey paper and ink, as a scanner saves them
    x = images.prepare_user_image(images.load_image_file(path))
    assert x.shape == (28, 28)
    ys, xs = np.nonzero(x > 0.2)
    assert 16 <= ys.max() - ys.min() + 1 <= 21 and xs.max() - xs.min() + 1 <= 6  # the "1", upright


def test_a_4096_pixel_16_bit_upload_is_made_28x28(tmp_path):
    path = tmp_path / "huge16.png"
    _png16(path, 4096)
    assert path.stat().st_size < 300_000  # a small file, 128 MiB as 16-bit pixels
    x = images.prepare_user_image(images.load_image_file(path))
    assert x.shape == (28, 28) and 16 <= np.ptp(np.nonzero(x > 0.2)[0]) + 1 <= 21


BURST = """
import json, sys, threading
sys.path.insert(0, sys.argv[1])
from PIL import Image
from vae_core import images

def mib(key):
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith(key)) / 1024
images.prepare_user_image(images.load_image_file(sys.argv[3]))  # imports and threads in place
open("/proc/self/clear_refs", "w").write("5")  # the peak counts from here
idle = mib("VmRSS")
out = []
def upload():
    try:
        out.append(images.prepare_user_image(images.load_image_file(sys.argv[2])).shape)
    except ValueError as e:
        out.append(str(e))
threads = [threading.Thread(target=upload) for _ in range(16)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps({"idle": idle, "peak": mib("VmHWM") - idle, "after": mib("VmRSS") - idle, "out": out}))
"""


def test_sixteen_large_16_bit_uploads_at_once_add_at_most_150_mib(tmp_path):
    big, small = tmp_path / "huge16.png", tmp_path / "small.png"
    _png16(big, 4096)
    Image.fromarray(_drawn_digit()).save(small)
    run = subprocess.run([sys.executable, "-c", BURST, str(Path(__file__).resolve().parents[1]), str(big), str(small)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert len(seen["out"]) == 16 and all(o == [28, 28] or "." in o for o in seen["out"]), seen["out"]
    assert seen["peak"] <= 150, seen  # the budget for any burst, whatever the pictures


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


def _recognised(mnist, picture_of, seed: int, n: int = 200) -> float:
    """The share of n test digits, made into pictures by picture_of(digit, rng) and prepared, whose prepared
    code's 10 nearest test digits (itself left out) are mostly of its class."""
    from vae_core import load_model
    from vae_core.latent import encode_images
    from pathlib import Path

    model = load_model(Path(__file__).resolve().parents[1] / "checkpoints" / "mnist-z32")
    labels = mnist.test_labels.numpy()
    codes, _ = encode_images(model, mnist.test_images.unsqueeze(1).float() / 255)
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(labels), n, replace=False)
    right = 0
    for i in picked:
        x = torch.tensor(images.prepare_user_image(picture_of(mnist.test_images[i].numpy(), rng)))
        mu, _ = model.encode(x.reshape(1, 1, 28, 28))
        distance = ((codes - mu.detach().numpy()) ** 2).sum(1)
        distance[i] = np.inf  # the class of its neighbours among the other test digits
        right += np.bincount(labels[np.argsort(distance)[:10]], minlength=10).argmax() == labels[i]
    return right / n


def test_photos_of_digits_on_paper_are_recognised_after_preparation(mnist):
    share = _recognised(mnist, _phone_photo, seed=5)
    assert share >= 0.9, share


def _stroke_width(ink: np.ndarray) -> float:
    """The mean width of the strokes of a binary picture, in pixels: the ink's area over half its outline
    (a stroke of width w and length L has area w L and an outline of about 2 L)."""
    from scipy import ndimage

    edge = int((ink & ~ndimage.binary_erosion(ink)).sum())
    return 2 * float(ink.sum()) / edge


def _small_thick_drawing(digit: np.ndarray, rng, brush: float = 25.0) -> np.ndarray:
    """A digit drawn small on the 280-pixel sketchpad (90 to 130 pixels tall) with its 25-pixel brush, as a
    finger does on a phone: strokes about twice MNIST's width once the digit fills its 20-pixel box. Black
    strokes on a transparent canvas, as the pad sends them."""
    from scipy import ndimage

    side = int(rng.uniform(90, 130) * 28 / 20)
    big = np.asarray(Image.fromarray(digit).resize((side, side), Image.BILINEAR)) > 127
    ink = ndimage.distance_transform_edt(~big) <= max(0.0, (brush - _stroke_width(big)) / 2)
    canvas = np.zeros((280, 280), dtype=bool)
    top = (280 - side) // 2
    canvas[top: top + side, top: top + side] = ink
    alpha = np.where(canvas, 255, 0).astype(np.uint8)
    return np.dstack([np.zeros_like(alpha)] * 3 + [alpha])


def test_a_small_digit_drawn_with_the_pads_thick_brush_is_recognised(mnist):
    # A first visitor's 7, drawn on a phone, was read as a 9, and the pad's brush looked thick for it. Drawn
    # small with that brush, strokes come out about twice MNIST's width (MNIST's: 1.98 pixels on average by
    # _stroke_width): still 94% recognised (97% with an 18-pixel brush). Thinning such strokes to MNIST's
    # width was tried and did worse (85%, and photos 90% -> 88%), so the pipeline leaves them as drawn.
    rng = np.random.default_rng(0)
    thick = _stroke_width(np.kron(images.prepare_user_image(
        _small_thick_drawing(mnist.test_images[0].numpy(), rng)), np.ones((10, 10))) > 0.5) / 10
    assert thick >= 2.5, thick  # the case meant: strokes well wider than MNIST's (2.95 for this one)
    share = _recognised(mnist, _small_thick_drawing, seed=6)
    assert share >= 0.9, share
