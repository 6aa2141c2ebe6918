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

import dataclasses
from dataclasses import dataclass, field

from .model import ModelConfig

REDUCTIONS = ("sum", "mean", "batch-sum")


@dataclass
class TrainConfig:
    """How a model is trained. Every field is a CLI flag of vae_core.train."""

    epochs: int = 30  # passes over the training split
    batch_size: int = 128  # images per step (on CUDA the default preset uses 512)
    lr: float = 2e-3  # Adam's learning rate at the start
    lr_schedule: str = "cosine"  # "cosine" (decays to lr/100 at the end) or "constant"
    beta: float = 1.0  # KL weight; 1 is the true ELBO (the convention: see vae_core/config.py)
    reduction: str = "sum"  # "sum" per image (ours), "mean" over elements (recipe A), "batch-sum" (recipe B)
    kl_warmup_epochs: float = 0.0  # ramp beta linearly from 0 over this many epochs (0: no warm-up)
    binarize: bool = True  # dynamic binarisation: a fresh Bernoulli draw of every batch
    val_size: int = 5000  # images held out of the end of the training set for model selection
    train_limit: int = 0  # use only the first N training images (0: all); for tests and smoke runs
    seed: int = 0  # seeds parameters, shuffling and binarisation; CPU runs are reproducible
    device: str = "auto"  # "auto" (CUDA, then MPS, then CPU), "cuda", "mps" or "cpu"
    compile: bool = False  # torch.compile the model (CUDA only; pays off on long runs)
    precision: str = "auto"  # "auto" (bf16 autocast on CUDA, fp32 elsewhere), "bf16" or "fp32"
    grad_clip: float = 0.0  # clip the gradient norm to this (0: off)

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


@dataclass
class Preset:
    """A named recipe: an architecture, how to train it, and what it reproduces."""

    description: str
    model: ModelConfig
    train: TrainConfig
    cuda_batch_size: int = 0  # a larger batch on CUDA, where the GPU would idle at the CPU batch size
    notes: list[str] = field(default_factory=list)


PRESETS: dict[str, Preset] = {
    "default": Preset(
        description="This product's recipe: a 28x28 conv VAE with a Bernoulli decoder on dynamically binarised MNIST.",
        model=ModelConfig(arch="conv", latent_dim=32, width=32, likelihood="bernoulli"),
        train=TrainConfig(),
        cuda_batch_size=512,
    ),
    "seed-conv": Preset(
        description="Recipe A of BACKGROUND.md: the tutorial conv VAE (32x32 in [-1, 1], mse + 0.1 * mean KL).",
        model=ModelConfig(arch="seed-conv", latent_dim=128, width=32, likelihood="gaussian"),
        train=TrainConfig(epochs=10, batch_size=64, lr=1e-4, lr_schedule="constant", beta=0.1,
                          reduction="mean", binarize=False, val_size=0),
        notes=["trained on all 60,000 training images, greyscale, as the notebook does"],
    ),
    "seed-mlp": Preset(
        description="Recipe B of BACKGROUND.md: the textbook MLP VAE (784-400-20, BCE summed over the batch).",
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
