"""Settings as dataclasses, and the named presets.

The CLI flags of `python -m vae_core.train` are generated from these fields, so a default lives here
and nowhere else. `ModelConfig` (the architecture) lives in model.py, which imports nothing of ours.

The beta convention. This product's loss is, per image,
    reconstruction summed over pixels + beta * KL summed over latent dimensions,
averaged over the batch (reduction "sum"), so beta = 1 is the true ELBO.
Recipe A (preset seed-conv) keeps its own means: mse averaged over all 32x32 pixels plus
0.1 * KL averaged over its 128 latent dimensions (reduction "mean"). Multiplying that loss by the
1024 pixels gives sum-of-squares + 0.1 * 1024 / 128 * summed KL: its weight is beta = 0.8 in our
convention, against a squared-error (not a Bernoulli) reconstruction. `equivalent_beta` computes it.
Recipe B (preset seed-mlp) sums over the whole batch (reduction "batch-sum"); beta 1, as ours.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from dataclasses import dataclass, field

from .model import ModelConfig

REDUCTIONS = ("sum", "mean", "batch-sum")


@dataclass
class TrainConfig:
    """How a model is trained. Every field is a CLI flag of vae_core.train."""

    epochs: int = field(default=30, metadata={"help": "passes over the training split"})
    batch_size: int = field(default=128, metadata={"help": "images per step (on CUDA the default preset uses 512)"})
    lr: float = field(default=2e-3, metadata={"help": "Adam's learning rate at the start"})
    lr_schedule: str = field(default="cosine", metadata={
        "help": '"cosine" (decays to lr/100 at the end) or "constant"'})
    beta: float = field(default=1.0, metadata={
        "help": "KL weight; 1 is the true ELBO (reconstruction and KL both summed per image)"})
    reduction: str = field(default="sum", metadata={
        "help": '"sum" per image (ours), "mean" over elements (recipe A), "batch-sum" (recipe B)'})
    kl_warmup_epochs: float = field(default=0.0, metadata={
        "help": "ramp beta linearly from 0 over this many epochs (0: no warm-up)"})
    binarize: bool = field(default=True, metadata={"help": "dynamic binarisation: a fresh Bernoulli draw of every batch"})
    val_size: int = field(default=5000, metadata={
        "help": "images held out of the end of the training set for model selection"})
    train_limit: int = field(default=0, metadata={
        "help": "use only the first N training images (0: all); for tests and smoke runs"})
    seed: int = field(default=0, metadata={"help": "seeds parameters, shuffling and binarisation; CPU runs are reproducible"})
    device: str = field(default="auto", metadata={"help": '"auto" (CUDA, then MPS, then CPU), "cuda", "mps" or "cpu"'})
    compile: bool = field(default=False, metadata={"help": "torch.compile the model (CUDA only; pays off on long runs)"})
    precision: str = field(default="auto", metadata={
        "help": '"auto" (bf16 autocast on CUDA, fp32 elsewhere), "bf16" or "fp32"'})
    grad_clip: float = field(default=0.0, metadata={"help": "clip the gradient norm to this (0: off)"})
    samples: int = field(default=1, metadata={
        "help": "codes drawn per image: 1 trains the ELBO; k > 1 the tighter k-sample importance-weighted "
                "bound (IWAE, Burda et al. 2015), k times the decoder's work per image"})
    dreg: bool = field(default=False, metadata={
        "help": "with samples > 1: the encoder's gradient by the doubly reparameterised estimator (Tucker et al. "
                "2018), whose signal does not fade as k grows; the same loss, the same decoder gradient"})

    def validate(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"epochs must be at least 1, not {self.epochs}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {self.batch_size}")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, not {self.lr}")
        if not 0 <= self.beta <= 1000:
            raise ValueError(f"beta must be between 0 and 1000, not {self.beta}")
        if self.reduction not in REDUCTIONS:
            raise ValueError(f"reduction must be one of {REDUCTIONS}, not {self.reduction!r}")
        if self.lr_schedule not in ("cosine", "constant"):
            raise ValueError(f"lr_schedule must be cosine or constant, not {self.lr_schedule!r}")
        if self.device not in ("auto", "cuda", "mps", "cpu"):
            raise ValueError(f"device must be auto, cuda, mps or cpu, not {self.device!r}")
        if self.precision not in ("auto", "bf16", "fp32"):
            raise ValueError(f"precision must be auto, bf16 or fp32, not {self.precision!r}")
        if not 1 <= self.samples <= 256:
            raise ValueError(f"samples must be between 1 and 256, not {self.samples}")
        if self.dreg and self.samples == 1:
            raise ValueError("dreg is an estimator of the importance-weighted bound's gradient: it needs samples > 1")
        if self.samples > 1 and self.reduction != "sum":
            raise ValueError(f"samples > 1 (the importance-weighted bound) needs reduction sum, not {self.reduction!r}")

    def validate_for(self, model: ModelConfig) -> None:
        """The checks that need the architecture too."""
        self.validate()
        if self.samples > 1 and model.likelihood != "bernoulli":
            raise ValueError("samples > 1 (the importance-weighted bound) needs a Bernoulli decoder: "
                             "a Gaussian one's squared error is not a log-likelihood to weigh codes by")


@dataclass
class Preset:
    """A named recipe: an architecture, how to train it, and what it reproduces."""

    description: str
    model: ModelConfig
    train: TrainConfig
    cuda_batch_size: int = 0  # a larger batch on CUDA, where the GPU would idle at the CPU batch size


PRESETS: dict[str, Preset] = {
    "default": Preset(
        description="This product's recipe: a 28x28 conv VAE with a Bernoulli decoder on dynamically binarised MNIST.",
        model=ModelConfig(arch="conv", latent_dim=32, width=32, likelihood="bernoulli"),
        train=TrainConfig(),
        cuda_batch_size=512,
    ),
    "seed-conv": Preset(
        description="Recipe A: the common tutorial conv VAE (32x32 in [-1, 1], mse + 0.1 * mean KL).",
        model=ModelConfig(arch="seed-conv", latent_dim=128, width=32, likelihood="gaussian"),
        train=TrainConfig(epochs=10, batch_size=64, lr=1e-4, lr_schedule="constant", beta=0.1,
                          reduction="mean", binarize=False, val_size=0),  # all 60,000 images, greyscale
    ),
    "seed-mlp": Preset(
        description="Recipe B: the textbook MLP VAE of pytorch/examples (784-400-20, BCE summed over the batch).",
        model=ModelConfig(arch="mlp", latent_dim=20, width=400, likelihood="bernoulli"),
        # hidden 400, latent 20, Adam 1e-3, batch 128, 10 epochs: pytorch/examples vae/main.py.
        train=TrainConfig(epochs=10, batch_size=128, lr=1e-3, lr_schedule="constant",
                          reduction="batch-sum", binarize=False, val_size=0),
    ),
}


def equivalent_beta(beta: float, reduction: str, n_pixels: int, latent_dim: int) -> float:
    """The KL weight in this product's convention (sums per image) of a loss with another reduction.

    "mean": mean-over-pixels reconstruction + beta * mean-over-dims KL, times n_pixels, gives
    summed reconstruction + beta * n_pixels / latent_dim * summed KL.
    """
    if reduction == "mean":
        return beta * n_pixels / latent_dim
    return beta


def replace(cfg, **changes):
    """dataclasses.replace that ignores None values (flags the user did not give)."""
    return dataclasses.replace(cfg, **{k: v for k, v in changes.items() if v is not None})


def add_dataclass_flags(parser: argparse.ArgumentParser, cls, skip: tuple[str, ...] = ()) -> None:
    """One flag per field, its help from the field's metadata, defaulting to None so a preset's value
    stands unless the flag is given. `X | None` fields take an X."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        kind = hints[f.name]
        if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
            kind = next(t for t in typing.get_args(kind) if t is not type(None))
        flag, help_text = "--" + f.name.replace("_", "-"), f.metadata.get("help", "")
        if kind is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        else:
            parser.add_argument(flag, type=kind, default=None,
                                help=f"{help_text} (default: {f.default}; a preset may set another)")
