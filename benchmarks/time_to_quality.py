"""Time to quality: training seconds until the test NLL first reaches 90, 88 and 86 nats.

    python -m benchmarks.time_to_quality --device cpu --epochs 60 [--eval-images 1000 --k 200] [--smoke]

Trains the default preset (as the main model) and, after each epoch, estimates the test NLL on the
first N test images with k importance samples. Evaluation time is left out of the training clock.
The estimate on a subset with k = 200 is a little pessimistic against k = 1000 on all 10,000.
"""

from __future__ import annotations

import argparse
import time

from vae_core import PRESETS, data
from vae_core.config import replace
from vae_core.evaluate import evaluate
from vae_core.train import pick_device, train

TARGETS = (90.0, 88.0, 86.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.time_to_quality", description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--eval-images", type=int, default=1000)
    parser.add_argument("--k", type=int, default=200)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--smoke", action="store_true", help="one tiny epoch, to check the script runs")
    args = parser.parse_args(argv)
    device = pick_device(args.device)
    mnist = data.load_mnist(args.data_dir)
    preset = PRESETS["default"]
    cfg = replace(preset.train, epochs=args.epochs, device=device.type, val_size=0)
    if device.type == "cuda":
        cfg = replace(cfg, batch_size=preset.cuda_batch_size)
    if args.smoke:
        cfg = replace(cfg, epochs=1, train_limit=500)
        args.eval_images, args.k = 50, 5
    test = mnist.test_images[:args.eval_images]
    clock = {"train": 0.0, "since": None}
    reached: dict[float, tuple[int, float, float]] = {}

    def on_progress(p):
        if p.kind == "step" and clock["since"] is None:
            clock["since"] = time.perf_counter()
        if p.kind != "epoch":
            return
        clock["train"] += time.perf_counter() - clock["since"]
        nll = evaluate(p.model, test, k=args.k, device=device)["nll"]
        print(f"epoch {p.epoch:3d}: {clock['train']:7.1f} s of training, test NLL ~ {nll:.2f}", flush=True)
        for target in TARGETS:
            if nll <= target and target not in reached:
                reached[target] = (p.epoch, clock["train"], nll)
        clock["since"] = None

    train(preset.model, cfg, mnist, callback=on_progress)
    print(f"\ndevice {device}, batch {cfg.batch_size}, NLL on {len(test)} test images with k = {args.k}")
    for target in TARGETS:
        if target in reached:
            epoch, seconds, nll = reached[target]
            print(f"  {target:.0f} nats: reached after epoch {epoch}, {seconds:.0f} s of training ({nll:.2f})")
        else:
            print(f"  {target:.0f} nats: not reached in {cfg.epochs} epochs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
