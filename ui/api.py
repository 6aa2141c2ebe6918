"""The plain API for scripts (gradio_client): decode a code, encode a digit, interpolate test digits,
recognise a digit.

These endpoints are a contract: their names (/decode, /encode, /interpolate_codes, /recognise), arguments and
answers stay stable. Every digit goes through the one validator the page uses too.
"""

from __future__ import annotations

import gradio as gr
import torch

from vae_core import data, latent

from .common import CODE_LIMIT, check_number, digit_tensor, get_model, need_test_images, recognise, refuse
from .guard import API_LANE, API_WORKERS
from .views.interpolate import interpolation


def register() -> None:
    """The endpoints share one queue with few workers (guard.API_LANE): a script's flood of them waits
    there, and the page's own events go on beside it."""
    for fn, name in ((api_decode, "decode"), (api_encode, "encode"), (api_interpolate, "interpolate_codes"),
                     (api_recognise, "recognise")):
        gr.api(fn, api_name=name, concurrency_id=API_LANE, concurrency_limit=API_WORKERS)


@torch.no_grad()
def api_decode(model: str, z: list[float]) -> dict:
    """Decode one latent point: returns {"image": 28x28 values in [0, 1]}."""
    m = get_model(model)
    if not isinstance(z, list) or len(z) != m.latent_dim:
        raise refuse(f"z must be a list of {m.latent_dim} numbers for {model}")
    values = [check_number(v, -CODE_LIMIT, CODE_LIMIT, f"z[{i}]") for i, v in enumerate(z)]
    image = latent.decode_images(m, torch.tensor([values]))
    return {"image": image[0, 0].numpy().round(4).tolist()}


@torch.no_grad()
def api_encode(model: str, image: list[list[float]]) -> dict:
    """Encode a 28x28 image in [0, 1]: returns mu, sigma and the reconstruction from mu."""
    m = get_model(model)
    x = digit_tensor(image)
    mu, logvar = m.encode(x)
    recon = latent.decode_images(m, mu)
    return {"mu": mu[0].tolist(), "sigma": torch.exp(0.5 * logvar)[0].tolist(),
            "reconstruction": recon[0, 0].numpy().round(4).tolist()}


@torch.no_grad()
def api_interpolate(model: str, a: int, b: int, steps: int = 10, mode: str = "linear") -> dict:
    """Interpolate between test images #a and #b: returns the decoded frames and the codes."""
    m = get_model(model)
    test = need_test_images(model)
    ia, ib = (int(check_number(i, 0, len(test) - 1, "test image index")) for i in (a, b))
    path, frames = interpolation(m, data.to_float(test[[ia, ib]]), steps, mode)
    return {"frames": frames[:, 0].numpy().round(4).tolist(), "codes": path.tolist()}


def api_recognise(model: str, image: list[list[float]]) -> dict:
    """Does the model recognise this 28x28 image in [0, 1] (white digit on black, centred like MNIST)?
    Returns the digit it looks most like, the probability of each digit, how digit-like it is as a
    percentile among the test digits (0.3: less typical than 99.7% of real digits; from the model's bound and
    how usual the image's code is), and the bound itself, on log p(x) in nats (higher is more digit-like)."""
    get_model(model)
    need_test_images(model)
    return recognise(model, digit_tensor(image))
