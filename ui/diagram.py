"""The picture that opens "How it works": one digit through the app's own model, encoder -> code ->
decoder, drawn with PIL (an image, so it reads the same on a phone and on a projector)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 1000, 300
INK, MUTED, BLUE, ORANGE, GREY = "#222222", "#666666", "#0072B2", "#E69F00", "#bbbbbb"
DIGIT_SIDE = 150  # pixels of each 28x28 digit in the picture
CODE_BOX = (420, 60, 590, 210)  # where the code's bars go: left, top, right, bottom


def _font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)  # Pillow's own font: no system fonts needed


def _centred(draw: ImageDraw.ImageDraw, x: float, y: float, text: str, size: int, fill: str = INK) -> None:
    font = _font(size)
    for i, line in enumerate(text.split("\n")):
        w = draw.textlength(line, font=font)
        draw.text((x - w / 2, y + i * (size + 4)), line, font=font, fill=fill)


def _funnel(draw: ImageDraw.ImageDraw, left: int, right: int, wide_first: bool, colour: str, label: str) -> None:
    """A trapezoid from wide (784 pixels) to narrow (a few numbers), or back."""
    top, bottom, inset = 70, 200, 45
    wide, narrow = (top, bottom), (top + inset, bottom - inset)
    a, b = (wide, narrow) if wide_first else (narrow, wide)
    draw.polygon([(left, a[0]), (right, b[0]), (right, b[1]), (left, a[1])], fill=colour)
    _centred(draw, (left + right) / 2, 124, label, 18, fill="white")


def _digit(canvas: Image.Image, pixels: np.ndarray, x: int) -> None:
    tile = Image.fromarray((np.clip(pixels, 0, 1) * 255).astype(np.uint8), "L").resize(
        (DIGIT_SIDE, DIGIT_SIDE), Image.NEAREST)
    canvas.paste(tile, (x, 60))


def pipeline(digit: np.ndarray, recon: np.ndarray, mu: np.ndarray, used: np.ndarray, caption: str,
             noun: str = "digit") -> np.ndarray:
    """digit, recon: 28x28 in [0, 1]; mu: the code (one value per dimension); used: which dimensions
    the model uses; caption: what the image is ("a handwritten 7"); noun: what one is ("digit").
    Returns an RGB picture (HEIGHT x WIDTH x 3)."""
    canvas = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(canvas)
    d = len(mu)
    _digit(canvas, digit, 20)
    _centred(draw, 20 + DIGIT_SIDE / 2, 222, f"{caption}\n784 pixels", 17)
    _funnel(draw, 190, 400, True, BLUE, "encoder")
    _centred(draw, 295, 222, "squeezes it into\na few numbers", 17, MUTED)

    left, top, right, bottom = CODE_BOX
    draw.rectangle(CODE_BOX, outline=GREY)
    mid = (top + bottom) / 2
    draw.line([(left, mid), (right, mid)], fill=GREY)
    scale = (bottom - top) / 2 / max(3.0, float(np.abs(mu).max()))
    width = (right - left) / d
    for i, (value, on) in enumerate(zip(mu, used)):
        x0 = left + i * width + width * 0.15
        y = mid - value * scale
        draw.rectangle([x0, min(mid, y), x0 + width * 0.7, max(mid, y)], fill=INK if on else GREY)
        if d <= 4:  # few numbers: write them out
            _centred(draw, x0 + width * 0.35, y - 22 if value >= 0 else y + 4, f"{value:.2f}", 15)
    code_words = f"its code: {d} numbers"
    if not used.all():
        code_words += f"\n({int(used.sum())} in use, grey ones unused)"
    _centred(draw, (left + right) / 2, 222, code_words, 17)
    _centred(draw, (left + right) / 2, 30, "the latent space", 17, MUTED)

    _funnel(draw, 610, 820, False, ORANGE, "decoder")
    _centred(draw, 715, 222, f"draws {'an' if noun[:1] in 'aeiou' else 'a'} {noun}\nfrom the numbers", 17, MUTED)
    _digit(canvas, recon, 835)
    _centred(draw, 835 + DIGIT_SIDE / 2, 222, "what it draws back", 17)
    return np.asarray(canvas)
