"""Images in and out: visitors' drawings and photos made MNIST-like, and digits made into pictures.

Input is hostile until proven otherwise: an uploaded file's size and its header's pixel count are
checked before a single pixel is decoded, and a file is only ever opened as an image. Pictures are
decoded and cleaned one at a time, in one thread, and made small (WORKING_SIDE) as soon as they are
decoded: a burst of uploads takes turns in the memory of one, where each thread's own heap kept its
picture's memory.
"""

from __future__ import annotations

import io
import math
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from PIL import ExifTags, Image, ImageFilter

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_UPLOAD_SIDE = 4096
MAX_UPLOAD_PIXELS = MAX_UPLOAD_SIDE * MAX_UPLOAD_SIDE  # decoding more is a denial of service
INK_LEVEL = 0.5  # of Otsu's threshold: the soft edges of a stroke stay, as in MNIST's grey rims
WORKING_SIDE = 512  # a picture is cleaned at most this size: the digit ends up 20 pixels tall anyway
BACKGROUND_SIDE = 96  # the lighting is estimated at this size, where it is smooth and cheap to filter
BAND_ROWS = 64  # a large picture is shrunk this many rows of the result at a time


# ----------------------------------------------------------------------------- digits -> pictures


def to_uint8(images: torch.Tensor | np.ndarray) -> np.ndarray:
    """(N, 1, H, W) or (H, W) in [0, 1] -> uint8 array of the same layout, without the channel axis."""
    a = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    if a.ndim == 4:
        a = a[:, 0]
    return (np.clip(a, 0, 1) * 255 + 0.5).astype(np.uint8)


def upscale(image: np.ndarray, factor: int = 8) -> np.ndarray:
    """Nearest-neighbour enlargement, so a 28x28 digit shows its pixels instead of a blur."""
    return np.kron(image, np.ones((factor, factor), dtype=image.dtype))


def grid(images: torch.Tensor | np.ndarray, ncols: int, pad: int = 2, factor: int = 4) -> np.ndarray:
    """A uint8 mosaic of (N, 1, 28, 28) images in [0, 1], on a mid-grey gutter."""
    tiles = to_uint8(images)
    n, h, w = tiles.shape
    nrows = -(-n // ncols)
    out = np.full((nrows * (h + pad) + pad, ncols * (w + pad) + pad), 96, dtype=np.uint8)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, ncols)
        out[pad + r * (h + pad): pad + r * (h + pad) + h, pad + c * (w + pad): pad + c * (w + pad) + w] = tile
    return upscale(out, factor)


def png_bytes(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


def gif_bytes(frames: list[np.ndarray], ms_per_frame: int = 120) -> bytes:
    """An animated GIF that plays the frames forward then back (a ping-pong loop)."""
    seq = frames + frames[-2:0:-1]
    buf = io.BytesIO()
    pil = [Image.fromarray(f) for f in seq]
    pil[0].save(buf, format="GIF", save_all=True, append_images=pil[1:], duration=ms_per_frame, loop=0)
    return buf.getvalue()


# ----------------------------------------------------------------------------- pictures -> digits


def _refuse_if_too_large(width: int, height: int) -> None:
    if width * height > MAX_UPLOAD_PIXELS or max(width, height) > MAX_UPLOAD_SIDE:
        raise ValueError(f"That image is {width}x{height} pixels; the limit is {MAX_UPLOAD_SIDE} "
                         "pixels a side. A photo of one digit at any phone resolution works.")


_WORKER = ThreadPoolExecutor(1, thread_name_prefix="images")  # one picture at a time, its memory reused
_TURNS = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
          5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
          8: Image.Transpose.ROTATE_90}  # EXIF orientation -> the turn that puts the picture upright (as ImageOps)


def load_image_file(path: str | os.PathLike) -> Image.Image:
    """Open an uploaded file as an image, refusing what is not one (it is never run or unpickled), upright
    and at most WORKING_SIDE pixels a side.

    The size on disk and the pixel count in the header are checked before any pixel is decoded; a JPEG is
    decoded at a reduced scale, and the full-size pixels are freed before the next picture's turn.
    """
    try:
        size = os.path.getsize(path)
        if size > MAX_UPLOAD_BYTES:
            raise ValueError(f"The file is {size / 1e6:.0f} MB; images up to {MAX_UPLOAD_BYTES // 2**20} MB "
                             "are accepted.")
        return _WORKER.submit(_load, path).result()
    except ValueError:
        raise
    except Image.DecompressionBombError:  # PIL's own bound, met first where a server tightened it
        raise ValueError(f"That image has more pixels than the limit of {MAX_UPLOAD_SIDE} pixels a side. A photo "
                         "of one digit at any phone resolution works.") from None
    except (OSError, SyntaxError) as e:
        raise ValueError(f"That file is not an image this app can read ({type(e).__name__}). "
                         "Upload a PNG, JPEG, GIF, BMP or WebP of one digit.") from None


def _load(path: str | os.PathLike) -> Image.Image:
    with Image.open(path) as im:  # reads the header only
        _refuse_if_too_large(*im.size)
        im.draft(None, (WORKING_SIDE, WORKING_SIDE))  # a JPEG's 1/2, 1/4 or 1/8 scale; others ignore it
        try:
            im.load()
            turn = _TURNS.get(im.getexif().get(ExifTags.Base.Orientation))  # a phone's photo is stored sideways
            small = _fitted(im)
        finally:
            im.close()  # frees the full-size pixels now, not when the garbage collector comes by
    return small if turn is None else small.transpose(turn)


def _fitted(im: Image.Image, side: int = WORKING_SIDE) -> Image.Image:
    """`im` shrunk to fit side x side, as ImageOps.contain with a box filter; with transparency, a band of
    rows at a time: PIL first copies the whole picture (premultiplied) to resize it, twice the memory."""
    w, h = im.size
    if max(w, h) <= side:
        return im.copy()
    size = (side, max(1, round(h / w * side))) if w >= h else (max(1, round(w / h * side)), side)
    if im.mode not in ("LA", "RGBA"):
        return im.resize(size, Image.BOX)
    out = Image.new(im.mode, size)
    step = h / size[1]  # rows of `im` to a row of `out`
    for r0 in range(0, size[1], BAND_ROWS):
        r1 = min(size[1], r0 + BAND_ROWS)
        top, bottom = int(r0 * step), min(h, math.ceil(r1 * step))
        band = im.crop((0, top, w, bottom)).resize((size[0], r1 - r0), Image.BOX,
                                                   box=(0, r0 * step - top, w, r1 * step - top))
        out.paste(band, (0, r0))
    return out


def prepare_user_image(image: np.ndarray | Image.Image | None) -> np.ndarray:
    """Any drawing or photo of a digit -> (28, 28) float in [0, 1], centred and scaled as MNIST is.

    MNIST digits are white on black, fit a 20x20 box (aspect kept) and have their centre of mass at
    the centre of the 28x28 field (LeCun et al.). Transparency is composited on white; a light
    background is inverted. Raises ValueError with a message a visitor can act on.
    """
    if image is None:
        raise ValueError("No image: draw a digit, upload a picture or pick one from the gallery.")
    if isinstance(image, np.ndarray) and image.ndim >= 2:
        _refuse_if_too_large(image.shape[1], image.shape[0])
    if isinstance(image, Image.Image):
        _refuse_if_too_large(image.width, image.height)
    return _WORKER.submit(_prepared, image).result()


def _prepared(image: np.ndarray | Image.Image) -> np.ndarray:
    pil = _eight_bit(_fitted(image if isinstance(image, Image.Image) else _array_to_pil(np.asarray(image))))
    if min(pil.size) >= 112:  # a photo's sensor noise, smoothed away at the scale of a stroke's edge
        if pil.mode not in ("L", "LA", "RGB", "RGBA"):
            pil = pil.convert("RGBA")
        pil = pil.filter(ImageFilter.GaussianBlur(max(pil.size) / 300))
    grey = _ink(_grey_white_on_black(pil))
    mask = _digit_mask(grey)
    grey = grey * mask
    if mask.sum() < 4:
        raise ValueError("No digit found in the image: the drawing is empty or too faint.")
    rows, cols = np.where(grey > 0.2)  # the box of the ink itself, not of its soft rim
    crop = grey[rows.min(): rows.max() + 1, cols.min(): cols.max() + 1]
    h, w = crop.shape
    scale = 20 / max(h, w)
    small = Image.fromarray((crop * 255).astype(np.uint8)).resize(
        (max(1, round(w * scale)), max(1, round(h * scale))), Image.LANCZOS)
    digit = np.asarray(small, dtype=np.float32) / 255
    canvas = np.zeros((28, 28), dtype=np.float32)
    top, left = (28 - digit.shape[0]) // 2, (28 - digit.shape[1]) // 2
    canvas[top: top + digit.shape[0], left: left + digit.shape[1]] = digit
    return _centre_of_mass(canvas)


def _eight_bit(pil: Image.Image) -> Image.Image:
    """16-bit and 32-bit grey scaled to 8 bits: PIL's own conversion clips them (grey paper came out white)."""
    if pil.mode != "I" and not pil.mode.startswith("I;16"):
        return pil
    a = np.asarray(pil, dtype=np.float32)
    top = 255.0 if a.max() <= 255 else 65535.0 if a.max() <= 65535 else float(a.max())
    return Image.fromarray((np.clip(a / top, 0, 1) * 255 + 0.5).astype(np.uint8))


def _grey_white_on_black(pil: Image.Image) -> np.ndarray:
    """Grey levels in [0, 1] with the ink bright: transparency and light paper handled."""
    if pil.mode in ("RGBA", "LA", "PA") or (pil.mode == "P" and "transparency" in pil.info):
        rgba = pil.convert("RGBA")
        alpha = np.asarray(rgba)[..., 3]
        if alpha.max() == 0:
            raise ValueError("The image is empty: draw a digit first.")
        if alpha.min() < 255 and np.asarray(rgba.convert("L"))[alpha > 0].mean() < 128:
            # dark strokes on a transparent canvas (a sketchpad): composite on white
            background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            pil = Image.alpha_composite(background, rgba)
        else:
            pil = Image.fromarray(alpha) if alpha.min() < 255 else rgba
    grey = np.asarray(pil.convert("L"), dtype=np.float32) / 255
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    if np.median(border) > 0.5:  # dark digit on light paper -> white on black, as MNIST
        grey = 1 - grey
    return grey


def _ink(grey: np.ndarray) -> np.ndarray:
    """Bright ink on a dark background, whatever the lighting: the background (estimated by a grey
    opening, which removes thin bright strokes) is subtracted, and Otsu's threshold splits ink from
    paper; the ink is stretched to [0, 1] and the paper set to 0."""
    h, w = grey.shape
    scale = BACKGROUND_SIDE / max(h, w)
    small = Image.fromarray((grey * 255).astype(np.uint8)).resize((max(1, round(w * scale)), max(1, round(h * scale))),
                                                                   Image.BOX)
    size = 2 * (BACKGROUND_SIDE // 6) + 1  # wider than any stroke or blot of ink of a digit that fills the picture
    background = small.filter(ImageFilter.MinFilter(size)).filter(ImageFilter.MaxFilter(size)).resize((w, h), Image.BILINEAR)
    flat = np.clip(grey - np.asarray(background, dtype=np.float32) / 255, 0, 1)
    top = np.percentile(flat, 99.5)
    if top <= 0.05:
        return np.zeros_like(flat)  # nothing stands out from the background
    t = _otsu(flat) * INK_LEVEL  # below Otsu's level: the soft edges of a stroke stay, as in MNIST's grey rims
    return np.clip((flat - t) / max(1e-6, top - t), 0, 1)


def _digit_mask(grey: np.ndarray) -> np.ndarray:
    """Where the digit is: the ink's connected pieces at least a tenth the size of the largest, so that
    specks, shadows and the edge of the paper do not count."""
    from scipy import ndimage  # a dependency of umap-learn; imported here, where it is used

    pieces, count = ndimage.label(grey > 0.2)
    if count == 0:
        return np.zeros_like(grey, dtype=bool)
    sizes = ndimage.sum_labels(np.ones_like(grey), pieces, index=np.arange(1, count + 1))
    keep = np.flatnonzero(sizes >= 0.1 * sizes.max()) + 1
    return ndimage.binary_dilation(np.isin(pieces, keep), iterations=2)


def _otsu(values: np.ndarray) -> float:
    """Otsu's threshold (1979): the level that best splits the values into two classes."""
    hist, edges = np.histogram(values, bins=64, range=(0.0, float(values.max()) + 1e-6))
    p = hist / hist.sum()
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(p)
    m0 = np.cumsum(p * centres)
    between = (m0[-1] * w0 - m0) ** 2 / np.maximum(w0 * (1 - w0), 1e-12)
    return float(centres[int(np.argmax(between[:-1]))])


def _array_to_pil(a: np.ndarray) -> Image.Image:
    if a.dtype != np.uint8:
        a = np.clip(a * 255 if a.max() <= 1.0 else a, 0, 255).astype(np.uint8)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)):
        raise ValueError(f"Not an image: an array of shape {a.shape}.")
    return Image.fromarray(a)


def _centre_of_mass(canvas: np.ndarray) -> np.ndarray:
    total = canvas.sum()
    ys, xs = np.indices(canvas.shape)
    dy = int(round(13.5 - (ys * canvas).sum() / total))
    dx = int(round(13.5 - (xs * canvas).sum() / total))
    return np.roll(np.roll(canvas, dy, axis=0), dx, axis=1)
