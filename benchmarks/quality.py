"""Model quality: test figures of every shipped model beside the published references.

    python -m benchmarks.quality [--k 1000] [--main-k 5000] [--limit N] [--smoke]

Importance-weighted NLL with k samples (the main model with --main-k, on a GPU 5000), the ELBO, its
reconstruction and KL parts, and the active units, on the fixed-seed binarised MNIST test set.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from vae_core import checkpoints, data
from vae_core.evaluate import evaluate
from vae_core.train import pick_device

ROOT = Path(__file__).resolve().parents[1]
MAIN = "mnist-z32"
PUBLISHED = [  # nats, test NLL on binarised MNIST, as each paper or library reports it
    ("MLP VAE, one stochastic layer (Burda et al. 2015)", 86.76),
    ("IWAE k=50, one stochastic layer (Burda et al. 2015)", 84.78),
    ("IWAE, two stochastic layers (Burda et al. 2015)", 82.90),
    ("conv VAE, 5000 importance samples (vel library)", 81.02),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.quality", description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoints", default=str(ROOT / "checkpoints"))
    parser.add_argument("--k", type=int, default=1000, help="importance samples for every model")
    parser.add_argument("--main-k", type=int, default=0, help="importance samples for the main model (0: --k)")
    parser.add_argument("--limit", type=int, default=0, help="first N test images only (0: all 10,000)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--from-metrics", action="store_true",
                        help="print the figures already in each metrics.json (from vae_core.evaluate) instead of recomputing")
    parser.add_argument("--smoke", action="store_true", help="k = 5 on 100 images, to check the script runs")
    args = parser.parse_args(argv)
    if args.smoke:
        args.k, args.main_k, args.limit = 5, 5, 100
    device = pick_device(args.device)
    tests: dict[str, torch.Tensor] = {}  # each model is scored on its own dataset's test images

    def test_images(entry) -> torch.Tensor:
        dataset = entry["config"].get("dataset", "mnist")
        if dataset not in tests:
            found = data.load_dataset(dataset, args.data_dir if dataset == "mnist" else None).test_images
            tests[dataset] = found[:args.limit] if args.limit else found
        return tests[dataset]
    rows = []
    for entry in checkpoints.list_checkpoints(args.checkpoints):
        if args.from_metrics:
            m = entry["metrics"].get("test")
            if m:
                rows.append((entry["name"], entry["config"].get("beta", 1.0), m, m["seconds"]))
            continue
        k = args.main_k or args.k if entry["name"] == MAIN else args.k
        model = checkpoints.load_model(entry["path"], device)
        t0 = time.perf_counter()
        m = evaluate(model, test_images(entry), k=k, device=device)
        rows.append((entry["name"], entry["config"].get("beta", 1.0), m, time.perf_counter() - t0))
        print(f"{entry['name']}: NLL {m['nll']:.2f} (k={k}) in {rows[-1][3]:.0f} s", flush=True)
    source = "metrics.json" if args.from_metrics else f"{args.limit or 'all'} test images of each model's dataset, device {device}"
    print(f"\n{source}, torch {torch.__version__}\n")
    print("| model | β | latent | test NLL ± s.e. (k, images) | -ELBO | reconstruction | KL | active units |")
    print("|---|---|---|---|---|---|---|---|")
    for name, beta, m, _ in rows:
        print(f"| {name} | {beta:g} | {m['latent_dim']} | {m['nll']:.2f} ± {m['nll_stderr']:.2f} ({m['k']}, {m['images']}) | "
              f"{m['neg_elbo']:.2f} | {m['reconstruction']:.2f} | {m['kl']:.2f} | {m['active_units']} |")
    for name, nll in PUBLISHED:
        print(f"| {name} (published) | 1 | | {nll:.2f} | | | | |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
