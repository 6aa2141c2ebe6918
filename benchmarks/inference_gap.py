"""How much of a model's test NLL figure is its encoder's, and how much the estimate's k.

    python -m benchmarks.inference_gap [--model checkpoints/mnist-z32] [--images 200 --k 1000 --steps 150] [--smoke]

On the first N test digits (the fixed binarisation of vae_core.evaluate), three importance-sampled
estimates of the same decoder's log p(x):
  amortised, k      the encoder's q(z|x) as the proposal, as every figure in RESULTS.md
  amortised, 4k     the same with four times the samples: what k leaves on the table
  refined, k        each digit's own diagonal Gaussian, started at the encoder's and improved by Adam on
                    the 16-sample bound with the decoder fixed (Cremer et al. 2018, "Inference
                    Suboptimality in Variational Autoencoders"): the amortisation gap
A better encoder can at best close the refined gap; only a better decoder lowers all three.
"""

from __future__ import annotations

import argparse
import math
import time

import torch

from vae_core import checkpoints, data
from vae_core.evaluate import importance_weighted
from vae_core.losses import importance_weighted_terms

from .finetune_ideas import MAIN


def refine(model, x: torch.Tensor, steps: int, k: int = 16, lr: float = 1e-2) -> tuple[torch.Tensor, torch.Tensor]:
    """Each image's (mu, logvar), from the encoder's, raised on the k-sample bound with the decoder fixed."""
    with torch.no_grad():
        mu, logvar = model.encode(x)
    mu, logvar = mu.clone().requires_grad_(), logvar.clone().requires_grad_()
    opt = torch.optim.Adam([mu, logvar], lr=lr)
    for _ in range(steps):
        z = model.reparameterize(mu.unsqueeze(1).expand(-1, k, -1), logvar.unsqueeze(1).expand(-1, k, -1))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = model.decode(z.reshape(-1, mu.shape[1]))
        # Summed over images: each image's own proposal gets its own full gradient.
        loss = importance_weighted_terms(out.float(), x, mu, logvar, z).loss * len(x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return mu.detach(), logvar.detach()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.inference_gap", description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(MAIN))
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--k", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=150, help="Adam steps of each digit's own proposal")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--smoke", action="store_true", help="10 digits, k = 10, 3 steps")
    args = parser.parse_args(argv)
    if args.smoke:
        args.images, args.k, args.steps = 10, 10, 3
    torch.manual_seed(0)
    model = checkpoints.load_model(args.model).requires_grad_(False)
    x = data.binarized_test_set(data.load_mnist(args.data_dir, download=False).test_images[:args.images])
    t0 = time.perf_counter()

    def nll(k: int, q=None) -> float:
        return -importance_weighted(model, x, k, bf16=True, q=q)[0].mean().item()

    rows = [(f"amortised, k = {args.k}", nll(args.k)), (f"amortised, k = {4 * args.k}", nll(4 * args.k)),
            (f"refined ({args.steps} steps), k = {args.k}", nll(args.k, refine(model, x, args.steps)))]
    print(f"| proposal (first {len(x)} test digits, bf16) | test NLL |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value:.2f} |")
    print(f"amortisation gap {rows[0][1] - rows[2][1]:.2f} nats, k's {rows[0][1] - rows[1][1]:.2f} "
          f"({time.perf_counter() - t0:.0f} s)")
    return 0 if all(math.isfinite(v) for _, v in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
