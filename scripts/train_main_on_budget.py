"""Train a main-model candidate in a fixed number of minutes, then take its test figure: the one command to
run where a GPU is lent for a few minutes (issue 12; RESULTS.md section 3 says why this network).

    python scripts/train_main_on_budget.py --out runs/main --minutes 6 --device cuda [--width 32
        --encoder-blocks 2 --decoder-blocks-7x7 3 --decoder-blocks-14x14 2] [--iw-share 0.4] [--smoke]

The main model's recipe (scripts/train_shipped.sh), with the epochs fitted to the budget instead of fixed:
one epoch of each phase is timed first (a short probe, on the budget), then the ELBO from scratch for
(1 - iw-share) of what is left and the 16-sample importance-weighted bound with --dreg for the rest, each
on its own cosine schedule; then `vae_core.evaluate --k 1000` on all 10,000 test digits (off the budget).
Each phase's command and time are in the checkpoint's metrics.json, as for every shipped model.
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vae_core import checkpoints  # noqa: E402
from vae_core import evaluate as evaluate_cli  # noqa: E402
from vae_core import cli as train_cli  # noqa: E402
from vae_core.model import BLOCK_FIELDS  # noqa: E402

IW = ["--samples", "16", "--dreg", "--lr", "5e-4"]


def _epoch_seconds(folder: Path) -> float:
    """The last epoch's training seconds in a run's metrics.json (the first may include warm-up)."""
    return checkpoints.read_metrics(folder)["training"]["history"][-1]["seconds"]


def _train(argv: list[str]) -> None:
    print("$ python -m vae_core.train " + " ".join(argv), flush=True)
    if train_cli.main(argv) != 0:
        raise SystemExit(f"training failed: python -m vae_core.train {' '.join(argv)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python scripts/train_main_on_budget.py", description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="the candidate's checkpoint folder (its ELBO phase beside it)")
    parser.add_argument("--minutes", type=float, required=True, help="training minutes in all, the probe included")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--iw-share", type=float, default=0.4, help="the share of the training on the 16-sample bound")
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--encoder-blocks", type=int, default=2)
    parser.add_argument("--decoder-blocks-7x7", type=int, default=3)
    parser.add_argument("--decoder-blocks-14x14", type=int, default=2)
    parser.add_argument("--smoke", action="store_true", help="500 training and 100 test images, to check it runs")
    args = parser.parse_args(argv)
    if not 0 < args.iw_share < 1 or args.minutes <= 0:
        parser.error("--minutes must be positive and --iw-share between 0 and 1")
    out = Path(args.out)
    elbo, probe, probe_iw = (out.with_name(out.name + tail) for tail in ("-elbo", "-probe", "-probe-iw"))
    common = ["--preset", "default", "--latent-dim", "32", "--beta", "1", "--precision", "bf16", "--val-size", "0",
              "--quiet", "--no-optimizer-state", "--device", args.device]
    common += [x for f in ("width", *BLOCK_FIELDS) for x in ("--" + f.replace("_", "-"), str(getattr(args, f)))]
    if args.smoke:
        common += ["--train-limit", "500"]
    start = time.perf_counter()

    # The probe: two epochs on the ELBO, then one on the bound from them; the second ELBO epoch and the bound's
    # epoch give each phase's seconds per epoch.
    _train(common + ["--epochs", "2", "--out", str(probe)])
    per_elbo = _epoch_seconds(probe)
    _train(common + IW + ["--epochs", "1", "--init-from", str(probe), "--out", str(probe_iw)])
    per_iw = _epoch_seconds(probe_iw)
    for folder in (probe, probe_iw):
        shutil.rmtree(folder)
    left = max(args.minutes * 60 - (time.perf_counter() - start), 0.0)
    elbo_epochs = max(1, math.floor(left * (1 - args.iw_share) / per_elbo))
    iw_epochs = max(1, math.floor(left * args.iw_share / per_iw))
    print(f"probe: {per_elbo:.1f} s an epoch on the ELBO, {per_iw:.1f} s on the 16-sample bound; {left:.0f} s left: "
          f"{elbo_epochs} + {iw_epochs} epochs", flush=True)

    _train(common + ["--epochs", str(elbo_epochs), "--out", str(elbo)])
    _train(common + IW + ["--epochs", str(iw_epochs), "--init-from", str(elbo), "--out", str(out)])
    print(f"trained in {time.perf_counter() - start:.0f} s of a {args.minutes * 60:.0f} s budget", flush=True)
    evaluate_args = [str(out), "--k", "1000", "--precision", "bf16", "--device", args.device]
    if args.smoke:
        evaluate_args = [str(out), "--k", "5", "--limit", "100", "--device", args.device]
    print("$ python -m vae_core.evaluate " + " ".join(evaluate_args), flush=True)
    return evaluate_cli.main(evaluate_args)


if __name__ == "__main__":
    raise SystemExit(main())
