"""Record a real run of Watch it learn's recipe, for the view to play while a visitor's own run waits.

    python scripts/record_learning.py [--data-dir DIR]

The default run of the view (a new 2-number model, 3,000 training digits, 10 passes, 40 snapshots of
the first 1,000 test digits' codes and of what it draws) trained on this machine's CPU; its frames are
written, as the view's player draws them, to ui/recordings/watch-it-learn.json with the recipe, the
machine and the time it took.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from ui.views import learn  # noqa: E402
from vae_core import data  # noqa: E402
from vae_core.config import TrainConfig  # noqa: E402
from vae_core.model import ModelConfig  # noqa: E402
from vae_core.train import train  # noqa: E402
from vae_core.watch import Recorder  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    torch.set_num_threads(1)  # as the app's trainer runs it
    mnist = data.load_mnist(args.data_dir)
    digits, passes = int(learn.DIGITS.default), int(learn.PASSES.default)
    watched = mnist.test_images[:learn.WATCHED]
    recorder, frames = Recorder(watched, learn.FRAMES), []

    def keep(progress):
        frame = recorder(progress)
        if frame is not None:
            frames.append(learn.page_frame(frame, passes))
    t0 = time.perf_counter()
    train(ModelConfig(latent_dim=2), TrainConfig(epochs=passes, val_size=0, train_limit=digits), mnist,
          callback=keep)
    seconds = time.perf_counter() - t0
    recipe = {"digits": digits, "passes": passes, "frames": len(frames), "seconds": round(seconds, 1),
              "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, 1 thread",
              "command": "python scripts/record_learning.py"}
    learn.save_recording(frames, mnist.test_labels[:learn.WATCHED].tolist(), recipe)
    print(f"{len(frames)} frames in {seconds:.0f} s -> {learn.RECORDING} ({learn.RECORDING.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
