"""Time to quality: training seconds until the test NLL first reaches 90, 88, 86, 84 and 82 nats.

    python -m benchmarks.time_to_quality --device cpu --epochs 60 [--eval-images 1000 --k 200] [--precision bf16]
        [--then-samples 8 --then-epochs 2 --then-lr 1e-3] [--eval-precision bf16] [--pythae] [--smoke]
        [--width 48 --encoder-blocks 2 --decoder-blocks-7x7 3 --decoder-blocks-14x14 2]

Trains the default preset (as the main model; with --precision bf16, its network in bfloat16 autocast;
with the architecture flags, a larger network of the same kind)
and, after each epoch, estimates the test NLL on the
first N test images with k importance samples. Evaluation time is left out of the training clock.
The estimate on a subset with k = 200 is a little pessimistic against k = 1000 on all 10,000.
With --then-epochs, the run goes on from those weights as the main model's recipe does: that many epochs
on the --then-samples-sample importance-weighted bound, from --then-lr down a fresh cosine (on the clock).
With --pythae, the same network, data, batch, learning rate and epochs are then trained by pythae's
own trainer (benchmarks/pythae_peer.py) and timed and evaluated the same way.
"""

from __future__ import annotations

import argparse
import time

from vae_core import PRESETS, data
from vae_core.config import add_dataclass_flags, replace
from vae_core.model import BLOCK_FIELDS, ModelConfig
from vae_core.evaluate import evaluate
from vae_core.train import pick_device, train

from . import pythae_peer

TARGETS = (90.0, 88.0, 86.0, 84.0, 82.0)


class Clock:
    """Training seconds (from each epoch's first step to its end) and the epochs at which targets fall."""

    def __init__(self, name: str, test, k: int, device, precision: str = "fp32"):
        self.name, self.test, self.k, self.device, self.precision = name, test, k, device, precision
        self.train, self.since, self.epoch = 0.0, None, 0
        self.reached: dict[float, tuple[int, float, float]] = {}

    def tick(self, kind: str, model) -> None:
        if kind == "step" and self.since is None:
            self.since = time.perf_counter()
        if kind != "epoch":
            return
        self.train += time.perf_counter() - self.since
        self.epoch += 1
        nll = evaluate(model, self.test, k=self.k, device=self.device, precision=self.precision)["nll"]  # off the clock
        print(f"{self.name} epoch {self.epoch:3d}: {self.train:7.1f} s of training, test NLL ~ {nll:.2f}", flush=True)
        for target in TARGETS:
            if nll <= target and target not in self.reached:
                self.reached[target] = (self.epoch, self.train, nll)
        self.since = None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.time_to_quality", description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--eval-images", type=int, default=1000)
    parser.add_argument("--k", type=int, default=200)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto",
                        help="our trainer's precision (auto: bf16 on CUDA, fp32 elsewhere)")
    parser.add_argument("--eval-precision", choices=("fp32", "bf16"), default="fp32",
                        help="the estimate's network arithmetic (every sum is fp32); bf16 is 2.5-3.4x faster")
    parser.add_argument("--then-epochs", type=int, default=0, help="then this many epochs on the k-sample bound")
    parser.add_argument("--then-samples", type=int, default=8, help="k of those epochs")
    parser.add_argument("--then-lr", type=float, default=1e-3, help="their learning rate at the start")
    parser.add_argument("--pythae", action="store_true",
                        help="then the same network, data and epochs through pythae's trainer (requirements-bench.txt)")
    parser.add_argument("--smoke", action="store_true", help="one tiny epoch, to check the script runs")
    add_dataclass_flags(parser, ModelConfig, skip=("arch", "likelihood", "latent_dim"))
    args = parser.parse_args(argv)
    preset = PRESETS["default"]
    model_cfg = replace(preset.model, **{f: getattr(args, f) for f in ("width", *BLOCK_FIELDS)})
    try:
        model_cfg.validate()
    except ValueError as e:
        parser.error(str(e))
    device = pick_device(args.device)
    mnist = data.load_mnist(args.data_dir)
    cfg = replace(preset.train, epochs=args.epochs, device=device.type, val_size=0, precision=args.precision)
    if device.type == "cuda":
        cfg = replace(cfg, batch_size=preset.cuda_batch_size)
    if args.smoke:
        cfg = replace(cfg, epochs=1, train_limit=500)
        args.eval_images, args.k = 50, 5
    test = mnist.test_images[:args.eval_images]
    print(f"device {device}, batch {cfg.batch_size}, precision {cfg.precision}, width {model_cfg.width}, "
          f"residual blocks (encoder, decoder 7x7, 14x14) {model_cfg.blocks()}, NLL on {len(test)} test images "
          f"with k = {args.k}")
    def run_ours(clock):
        model = train(model_cfg, cfg, mnist, callback=lambda p: clock.tick(p.kind, p.model)).model
        if args.then_epochs:
            then = replace(cfg, epochs=args.then_epochs, samples=args.then_samples, lr=args.then_lr)
            train(model_cfg, then, mnist, init_from=model, callback=lambda p: clock.tick(p.kind, p.model))

    contestants = [("ours", run_ours)]
    if args.pythae:
        missing = pythae_peer.available()
        if missing:
            print(f"pythae cannot run here: {missing}")
        else:
            def run_pythae(clock):
                peer = pythae_peer.Peer(mnist, device, cfg.lr, cfg.batch_size, limit=cfg.train_limit,
                                        model_cfg=model_cfg)
                peer.train(cfg.epochs, on_step=lambda: clock.tick("step", None),
                           on_epoch=lambda epoch: clock.tick("epoch", peer.ours))
            contestants.append(("pythae", run_pythae))
    results = {}
    for name, run in contestants:
        clock = Clock(name, test, args.k, device, args.eval_precision)
        run(clock)
        results[name] = clock
    for name, clock in results.items():
        print(f"\n{name}:")
        for target in TARGETS:
            if target in clock.reached:
                epoch, seconds, nll = clock.reached[target]
                print(f"  {target:.0f} nats: reached after epoch {epoch}, {seconds:.0f} s of training ({nll:.2f})")
            else:
                print(f"  {target:.0f} nats: not reached in {clock.epoch} epochs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
