"""Gain per CPU-minute of ideas for a better main model, each tried on the shipped one for the same time.

    python -m benchmarks.finetune_ideas --minutes 5 [--ideas elbo,iwae8,...] [--eval-images 1000 --k 200]
        [--precision fp32] [--smoke]

Every idea starts from the shipped main model's weights (checkpoints/mnist-z32), trains for the same
wall-clock budget (its learning rate decayed by a cosine over that budget, the network in bfloat16
autocast unless --precision fp32 (bf16 pays on a CPU with AVX-512 BF16 or AMX), batches of 128 drawn at random and binarised afresh), and is then
scored by the test NLL on the first N test digits with k importance samples (fp32 sums, evaluation off
the clock). The first row is the shipped model itself. What is tried:
  elbo            more of the training it had: the ELBO, from a lower learning rate
  iwae8-encoder   the 8-sample importance-weighted bound, the encoder alone (a better proposal q)
  iwae8, iwae32   the k-sample bound (Burda et al. 2015) for the whole model, at lr 3e-4
  iwae8-lr1e-3    the same at a higher rate
  iwae16          the 16-sample bound the shipped model was fine-tuned on, at lr 3e-4
  dreg16          the same, the encoder's gradient by the doubly reparameterised estimator
  grow-14x14-2, grow-both
                  the 16-sample bound for a larger decoder grown from the shipped one: residual blocks
                  added at 14x14 (2), or 2 more at 7x7 too, each starting as the identity (lr 5e-4)
  grow-encoder, grow-encoder-dreg
                  2 residual blocks added to the encoder (which runs once per image, where the decoder
                  runs 16 times): a better proposal q for the bound and for the test estimate
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from vae_core import checkpoints, data
from vae_core.evaluate import evaluate
from vae_core.config import TrainConfig
from vae_core.model import BLOCK_FIELDS, VAE
from vae_core.distributed import Native
from vae_core.train import _step

MAIN = Path(__file__).resolve().parents[1] / "checkpoints" / "mnist-z32"


@dataclass(frozen=True)
class Idea:
    samples: int  # 1: the ELBO
    lr: float
    encoder_only: bool = False
    blocks: tuple[int, int, int] | None = None  # grow to these first: (encoder, decoder 7x7, decoder 14x14)
    dreg: bool = False


IDEAS = {
    "elbo": Idea(1, 3e-4),
    "iwae8-encoder": Idea(8, 3e-4, encoder_only=True),
    "iwae8": Idea(8, 3e-4),
    "iwae8-lr1e-3": Idea(8, 1e-3),
    "iwae32": Idea(32, 3e-4),
    "iwae16": Idea(16, 3e-4),
    "dreg16": Idea(16, 3e-4, dreg=True),
    "grow-14x14-2": Idea(16, 5e-4, blocks=(0, 1, 2)),
    "grow-both": Idea(16, 5e-4, blocks=(0, 3, 2)),
    "grow-encoder": Idea(16, 5e-4, blocks=(2, 1, 0)),
    "grow-encoder-dreg": Idea(16, 5e-4, blocks=(2, 1, 0), dreg=True),
}


def start(path: str, idea: Idea):
    """The model an idea trains: the checkpoint itself, or a larger decoder grown from it."""
    model = checkpoints.load_model(path)
    if idea.blocks is None:
        return model
    # At least the idea's blocks and never fewer than the model has: only added blocks can grow from it.
    blocks = {f: max(n, getattr(model.cfg, f)) for f, n in zip(BLOCK_FIELDS, idea.blocks)}
    grown = VAE(dataclasses.replace(model.cfg, **blocks))
    grown.load_from(model)
    return grown


def fine_tune(model, images: torch.Tensor, idea: Idea, seconds: float, bf16: bool, seed: int = 0) -> int:
    """Train in place for `seconds` with the trainer's own step; returns the images seen."""
    model.decoder.requires_grad_(not idea.encoder_only)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=idea.lr)
    cfg, step_fn = TrainConfig(lr=idea.lr, samples=idea.samples, dreg=idea.dreg), Native(model, idea.samples)
    model.train()
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    seen, t0 = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - t0) < seconds:
        lr = idea.lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * elapsed / seconds)))  # cosine over the budget
        xb = torch.bernoulli(images[torch.randint(len(images), (128,), generator=g)], generator=g)
        _step(model, step_fn, opt, xb, cfg, lr, 1.0, bf16)
        seen += len(xb)
    model.eval()
    return seen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.finetune_ideas", description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="training budget of each idea")
    parser.add_argument("--ideas", default=",".join(IDEAS), help=f"comma-separated, of: {', '.join(IDEAS)}")
    parser.add_argument("--model", default=str(MAIN), help="the checkpoint every idea starts from")
    parser.add_argument("--eval-images", type=int, default=1000)
    parser.add_argument("--k", type=int, default=200)
    parser.add_argument("--precision", choices=("bf16", "fp32"), default="bf16",
                        help="the network's arithmetic in training and scoring (every sum is fp32)")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--smoke", action="store_true", help="every idea for 2 s, scored on 20 digits with k = 5")
    args = parser.parse_args(argv)
    if args.smoke:
        args.minutes, args.eval_images, args.k = 2 / 60, 20, 5
    names = [n for n in args.ideas.split(",") if n]
    unknown = [n for n in names if n not in IDEAS]
    if unknown:
        parser.error(f"unknown ideas {unknown}; known: {', '.join(IDEAS)}")
    mnist = data.load_mnist(args.data_dir, download=False)
    train_x = data.to_float(mnist.train_images)
    test = mnist.test_images[:args.eval_images]
    bf16 = args.precision == "bf16"

    def score(model) -> float:
        return evaluate(model, test, k=args.k, precision=args.precision)["nll"]

    base = score(checkpoints.load_model(args.model))
    print(f"| idea ({args.minutes:g} min of training each, {args.precision}) | epochs seen | "
          f"test NLL (first {len(test)}, k = {args.k}) | gain per CPU-minute |", flush=True)
    print("|---|---|---|---|", flush=True)
    print(f"| none: the shipped model | | {base:.2f} | |", flush=True)
    for name in names:
        model = start(args.model, IDEAS[name])
        seen = fine_tune(model, train_x, IDEAS[name], args.minutes * 60, bf16)
        nll = score(model)
        print(f"| {name} | {seen / len(train_x):.2f} | {nll:.2f} | {(base - nll) / args.minutes:.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
