"""The variational autoencoders this product trains and explores.

References:
  Kingma & Welling 2013, "Auto-Encoding Variational Bayes" (the VAE, the reparameterisation trick).
  Burda, Grosse & Salakhutdinov 2015, "Importance Weighted Autoencoders" (the bound evaluate.py uses).
  pytorch/examples vae/main.py (the method names, and recipe B: the textbook MLP VAE).

Three architectures share one class and one public contract:
  encode(x) takes float images (N, 1, 28, 28) in [0, 1] and returns (mu, logvar), each (N, latent_dim);
  decode(z) returns Bernoulli logits (N, 1, 28, 28), or for a Gaussian model the mean image in [0, 1].
An architecture that sees its data differently (recipe A works on 32x32 images in [-1, 1]) converts
inside `preprocess` and `postprocess`; the trainer uses the `*_native` methods, which skip that.

This file imports nothing of the project.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

ARCHS = ("conv", "seed-conv", "mlp")
# Each architecture in words, for model cards and menus: where it comes from.
RECIPES = {"conv": "this project's convolutional VAE", "seed-conv": "the common tutorial's convolutional VAE",
           "mlp": "the textbook MLP VAE"}
LIKELIHOODS = ("bernoulli", "gaussian")
BLOCK_FIELDS = ("encoder_blocks", "decoder_blocks_7x7", "decoder_blocks_14x14")


@dataclass
class ModelConfig:
    """Everything that rebuilds a model's architecture (it is saved in config.json)."""

    arch: str = field(default="conv", metadata={
        "help": '"conv" (this product\'s), "seed-conv" (recipe A), "mlp" (recipe B)'})
    latent_dim: int = field(default=32, metadata={"help": "size of z, 2 to 128"})
    width: int = field(default=32, metadata={
        "help": "conv: channels of the first layer (doubled once); mlp: hidden units"})
    likelihood: str = field(default="bernoulli", metadata={
        "help": 'decoder distribution: "bernoulli" (logits) or "gaussian" (means)'})
    encoder_blocks: int = field(default=0, metadata={"help": "conv: the encoder's residual blocks at 7x7, 0 to 8"})
    decoder_blocks_7x7: int = field(default=1, metadata={"help": "conv: the decoder's residual blocks at 7x7, 1 to 8"})
    decoder_blocks_14x14: int = field(default=0, metadata={
        "help": "conv: the decoder's residual blocks at 14x14, 0 to 8"})

    def blocks(self) -> tuple[int, ...]:
        return tuple(getattr(self, f) for f in BLOCK_FIELDS)

    def check_grows_from(self, other: "ModelConfig") -> None:
        """Raise ValueError unless a model of this config can start from one of `other`'s: the same, or the
        same with more residual blocks."""
        same_layers = dataclasses.replace(self, **{f: getattr(other, f) for f in BLOCK_FIELDS})
        changed = [f"{f.name} {getattr(other, f.name)} -> {getattr(self, f.name)}" for f in dataclasses.fields(self)
                   if getattr(other, f.name) != getattr(same_layers, f.name)]
        fewer = [f"{f} {b} -> {a}" for f, a, b in zip(BLOCK_FIELDS, self.blocks(), other.blocks()) if a < b]
        if changed or fewer:
            raise ValueError(f"cannot start from that model ({', '.join(changed + fewer)}): only added residual "
                             "blocks can start from a smaller model")

    def validate(self) -> None:
        if self.arch not in ARCHS:
            raise ValueError(f"arch must be one of {ARCHS}, not {self.arch!r}")
        if self.likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, not {self.likelihood!r}")
        if not 2 <= self.latent_dim <= 128:
            raise ValueError(f"latent_dim must be between 2 and 128, not {self.latent_dim}")
        if not 4 <= self.width <= 1024:
            raise ValueError(f"width must be between 4 and 1024, not {self.width}")
        for name, low in zip(BLOCK_FIELDS, (0, 1, 0)):
            if not low <= getattr(self, name) <= 8:
                raise ValueError(f"{name} must be between {low} and 8, not {getattr(self, name)}")
        if self.arch != "conv" and self.blocks() != (0, 1, 0):
            raise ValueError(f"residual blocks are the conv architecture's; {self.arch} has its own layers")
        if self.arch == "seed-conv" and self.likelihood != "gaussian":
            raise ValueError("the seed-conv architecture ends in Tanh: its likelihood is gaussian")


class ResBlock(nn.Module):
    """Two 3x3 convolutions with a skip: capacity at a resolution without more parameters in linears."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, 1, 1)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.silu(self.conv1(F.silu(x))))


def _conv_nets(cfg: ModelConfig) -> tuple[nn.Module, nn.Module]:
    """This product's network: 28x28 in and out (no resizing), residual blocks in the decoder at 7x7
    (and optionally at 14x14, where each costs about as much as the rest of the decoder, and in the
    encoder, which runs once per image where the importance-weighted bound runs the decoder k times).

    Cheaper per image than recipe A (no 32x32 resize, no 2048-wide layers) with more decoder capacity
    where it pays. With the defaults (one block at 7x7) the layers and their names are those of every
    model shipped before the blocks could be chosen, so their checkpoints load unchanged.
    """
    w, L = cfg.width, cfg.latent_dim
    encoder = nn.Sequential(
        nn.Conv2d(1, w, 4, 2, 1), nn.SiLU(),  # 14x14
        nn.Conv2d(w, 2 * w, 4, 2, 1),  # 7x7
        *(ResBlock(2 * w) for _ in range(cfg.encoder_blocks)), nn.SiLU(),
        nn.Flatten(), nn.Linear(2 * w * 49, 2 * L),
    )
    decoder = nn.Sequential(
        nn.Linear(L, 2 * w * 49), nn.Unflatten(1, (2 * w, 7, 7)), nn.SiLU(),
        *(ResBlock(2 * w) for _ in range(cfg.decoder_blocks_7x7)), nn.SiLU(),
        nn.ConvTranspose2d(2 * w, w, 4, 2, 1),  # 14x14
        *(ResBlock(w) for _ in range(cfg.decoder_blocks_14x14)), nn.SiLU(),
        nn.ConvTranspose2d(w, 1, 4, 2, 1),  # 28x28 logits
    )
    return encoder, decoder


def _seed_conv_nets(cfg: ModelConfig) -> tuple[nn.Module, nn.Module]:
    """Recipe A, the common tutorial conv VAE, layer for layer (32x32 input in [-1, 1], Tanh output)."""
    L = cfg.latent_dim
    encoder = nn.Sequential(
        nn.Conv2d(1, 32, 4, 2, 1), nn.ReLU(),
        nn.Conv2d(32, 64, 4, 2, 1), nn.ReLU(),
        nn.Conv2d(64, 128, 4, 2, 1), nn.ReLU(),
        nn.Flatten(), nn.Linear(2048, 2 * L),
    )
    decoder = nn.Sequential(
        nn.Linear(L, 2048), nn.ReLU(), nn.Unflatten(1, (128, 4, 4)),
        nn.ConvTranspose2d(128, 64, 4, 2, 1), nn.ReLU(),
        nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.ReLU(),
        nn.ConvTranspose2d(32, 1, 4, 2, 1), nn.Tanh(),
    )
    return encoder, decoder


def _mlp_nets(cfg: ModelConfig) -> tuple[nn.Module, nn.Module]:
    """Recipe B: the textbook MLP VAE. The final Sigmoid is folded into the Bernoulli loss (logits)."""
    H, L = cfg.width, cfg.latent_dim
    encoder = nn.Sequential(nn.Flatten(), nn.Linear(784, H), nn.ReLU(), nn.Linear(H, 2 * L))
    decoder = nn.Sequential(nn.Linear(L, H), nn.ReLU(), nn.Linear(H, 784), nn.Unflatten(1, (1, 28, 28)))
    return encoder, decoder


_NETS = {"conv": _conv_nets, "seed-conv": _seed_conv_nets, "mlp": _mlp_nets}


class VAE(nn.Module):
    """q(z|x) = N(mu, diag exp(logvar)), p(z) = N(0, I), p(x|z) Bernoulli(logits) or Gaussian(mean)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.latent_dim = cfg.latent_dim
        self.likelihood = cfg.likelihood
        self.encoder, self.decoder = _NETS[cfg.arch](cfg)

    # -- conversions between the public image format and what the network sees --
    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 1, 28, 28) in [0, 1] -> the network's input."""
        if self.cfg.arch == "seed-conv":
            # transforms.Resize(32) (bilinear) then Normalize([0.5], [0.5]), done on whole batches.
            x = F.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False)
            return x * 2 - 1
        return x

    def postprocess(self, out: torch.Tensor) -> torch.Tensor:
        """The network's output -> logits (Bernoulli) or the mean image in [0, 1] (Gaussian), 28x28."""
        if self.cfg.arch == "seed-conv":
            out = F.interpolate(out, size=(28, 28), mode="bilinear", align_corners=False, antialias=True)
            return ((out + 1) / 2).clamp(0, 1)
        return out

    # -- the standard VAE methods --
    def encode_native(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder(x).float().chunk(2, dim=1)
        return mu, logvar

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.encode_native(self.preprocess(x))

    @staticmethod
    def reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        # z = mu + sigma * eps: the randomness sits in eps, so gradients reach mu and logvar.
        return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)

    def decode_native(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.postprocess(self.decode_native(z))

    def forward_native(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encode_native(x)
        return self.decode_native(self.reparameterize(mu, logvar)), mu, logvar

    def forward_samples_native(self, x: torch.Tensor, k: int) -> tuple[torch.Tensor, ...]:
        """k codes per image: (outputs (N * k, ...), mu, logvar, z (N, k, latent_dim)), for the k-sample bound."""
        mu, logvar = self.encode_native(x)
        z = self.reparameterize(mu.unsqueeze(1).expand(-1, k, -1), logvar.unsqueeze(1).expand(-1, k, -1))
        return self.decode_native(z.reshape(-1, mu.shape[1])), mu, logvar, z

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encode(x)
        return self.decode(self.reparameterize(mu, logvar)), mu, logvar

    @torch.no_grad()
    def sample(self, n: int, temperature: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
        """n images from the prior, as probabilities / mean intensities in [0, 1]."""
        device = next(self.parameters()).device
        z = torch.randn(n, self.latent_dim, device=device, generator=generator) * temperature
        return self.mean_image(self.decode(z))

    def mean_image(self, out: torch.Tensor) -> torch.Tensor:
        """decode()'s output as an image in [0, 1]: sigmoid of logits, or the Gaussian mean itself."""
        return torch.sigmoid(out) if self.likelihood == "bernoulli" else out

    def load_from(self, other: "VAE") -> None:
        """Take another model's weights: all of them if the architectures are the same; if this one has
        more residual blocks than `other` (and is otherwise the same), the layers both have, with each
        added block starting as the identity (its last convolution zero, as in Goyal et al. 2017), so
        this model computes exactly what `other` did and training grows it from there."""
        if other.cfg == self.cfg:
            self.load_state_dict(other.state_dict())
            return
        self.cfg.check_grows_from(other.cfg)
        for mine, theirs in ((self.encoder, other.encoder), (self.decoder, other.decoder)):
            theirs = list(theirs.children())
            j = 0
            for layer in mine.children():
                if j < len(theirs) and type(theirs[j]) is type(layer):  # blocks are only ever inserted
                    layer.load_state_dict(theirs[j].state_dict())
                    j += 1
                else:
                    nn.init.zeros_(layer.conv2.weight)
                    nn.init.zeros_(layer.conv2.bias)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

