"""How long "watch a model learn" takes, as the app runs it: from pressing Start to its first frame and
to its last, for the app's default run (a new 2-D model, 3,000 training digits, 10 passes, 1,000 test
digits watched), in the same low-priority training process with one thread.

    python -m benchmarks.watch [--runs 3] [--smoke]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch

from ui.views import learn
from vae_core import data
from vae_core.config import TrainConfig
from vae_core.model import ModelConfig
from vae_core.watch import Frame
from vae_core.worker import TrainingProcess


def one_run(watched, digits: int, passes: int, out: str) -> tuple[float, float, int, float]:
    """Seconds to the first frame and to the last, the number of frames, and the last frame's loss."""
    t0 = time.perf_counter()
    run = TrainingProcess(ModelConfig(latent_dim=2), TrainConfig(epochs=passes, val_size=0, train_limit=digits),
                          data.resolve_data_dir(), out, run_info={"save_optimizer": False},
                          watch=(watched, learn.FRAMES))
    times, loss = [], float("nan")
    for update in run.updates():
        if isinstance(update, Frame):
            times.append(time.perf_counter() - t0)
            loss = update.loss
    run.close()
    if run.outcome.error is not None:
        raise RuntimeError(run.outcome.error)
    return times[0], times[-1], len(times), loss


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.watch", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="one short run (1,000 digits, 1 pass)")
    args = parser.parse_args(argv)
    digits, passes, runs = ((1000, 1, 1) if args.smoke else
                            (int(learn.DIGITS.default), int(learn.PASSES.default), args.runs))
    watched = data.load_mnist().test_images[:learn.WATCHED].numpy()
    print(f"CPU threads {torch.get_num_threads()} (the run uses 1, at low priority), torch {torch.__version__}; "
          f"{digits} digits x {passes} passes, {learn.WATCHED} test digits watched")
    firsts, lasts = [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            first, last, frames, loss = one_run(watched, digits, passes, tmp)
        firsts.append(first)
        lasts.append(last)
        print(f"run: first frame {first:.1f} s, last frame {last:.1f} s, {frames} frames, last loss {loss:.0f} nats")
    print(f"watch a model learn: first frame median {statistics.median(firsts):.1f} s, "
          f"last frame median {statistics.median(lasts):.1f} s ({runs} runs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
