"""A model's decoder as an ONNX graph, so that a runtime outside PyTorch (onnxruntime-web, in a visitor's
browser) draws the same pictures: codes (N, latent_dim) in, images (N, 1, 28, 28) in [0, 1] out.

    export_decoder(model, "decoder.onnx")        # in this process
    export_apart("checkpoints/mnist-z32", path)  # in a process of its own, at a lower priority, kept a while

The graph is made by torch.onnx.export (the torch.export-based exporter, with onnxscript), opset 18:
its Resize has the antialias that recipe A's 32 -> 28 resize needs. Written to a temporary file and
renamed into place, so a reader never sees half a graph.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from pathlib import Path

import torch
from torch import nn

from .apart import with_model
from .model import VAE

OPSET = 18
MAX_BATCH = 64  # codes decoded in one call: an interpolation's longest walk, and then some


class ImageDecoder(nn.Module):
    """decode + mean_image: what latent.decode_images computes, as one module to export."""

    def __init__(self, model: VAE):
        super().__init__()
        self.model = model

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.model.mean_image(self.model.decode(z))


def export_decoder(model: VAE, path: str | os.PathLike) -> Path:
    """Write the model's decoder (codes -> images in [0, 1]) to `path` as ONNX; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    module = ImageDecoder(model.cpu().float()).eval()
    batch = torch.export.Dim("batch", min=1, max=MAX_BATCH)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):  # the exporter's progress lines
        warnings.simplefilter("ignore")
        program = torch.onnx.export(module, (torch.zeros(2, model.latent_dim),), None, dynamo=True,
                                    input_names=["z"], output_names=["image"], dynamic_shapes={"z": {0: batch}},
                                    opset_version=OPSET, external_data=False, verbose=False)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        program.save(str(tmp), external_data=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def export_apart(checkpoint: str | os.PathLike, path: str | os.PathLike) -> Path:
    """export_decoder of a checkpoint folder in a process of its own: the exporter holds the interpreter
    lock for seconds, which a server's other threads would wait for. One process serves every export, as
    importing the exporter costs more than an export."""
    return Path(with_model(export_decoder, checkpoint, str(path)))
