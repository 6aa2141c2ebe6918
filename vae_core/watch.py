"""Watch a model learn: snapshots, taken while it trains, of where its encoder puts a fixed set of
digits and of what its decoder draws across the plane. For a model with two latent numbers this is
its map organising itself, from one grey blob to ten groups.

    recorder = Recorder(test_images[:1000], frames=40)
    train(model_cfg, cfg, mnist, callback=lambda p: recorder(p) and frames.append(recorder.last))

The snapshots come after a growing number of steps (1, 2, 3, 5, 8, ... up to the last), because a
model changes most in its first steps. Taking one does not touch the training: no gradients, no
random numbers drawn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from . import data, latent

GRID = 8  # the drawn plane: GRID x GRID decoded points
EXTENT = 3.0  # ... covering [-EXTENT, EXTENT]^2, where a trained 2-D model puts nearly every digit


@dataclass
class Frame:
    """One snapshot of a model in training."""

    step: int  # training steps taken
    images_seen: int  # training images stepped over so far (a pass's last batch may be smaller)
    epoch: int  # the pass over the training digits it was taken in (1-based)
    loss: float  # the latest step's loss, nats per image
    codes: np.ndarray  # (N, 2) float32: the encoder's means of the watched digits
    drawn: np.ndarray  # (GRID*28, GRID*28) uint8: what the decoder draws across the plane


def schedule(total_steps: int, frames: int) -> list[int]:
    """The steps after which to take a snapshot: about `frames` of them, closer together at the start
    (geometric), always including the first and the last."""
    if total_steps < 1 or frames < 2:
        raise ValueError("a schedule needs at least one step and two frames")
    steps = np.unique(np.round(np.geomspace(1, total_steps, frames)).astype(int))
    return [int(s) for s in steps]


class Recorder:
    """A training callback's helper: `recorder(progress)` returns a Frame at the scheduled steps (and
    keeps it as `.last`), else None. For 2-D models, whose codes are the map."""

    def __init__(self, images: torch.Tensor, frames: int):
        self.x = data.to_float(images) if images.dtype == torch.uint8 else images.float().reshape(-1, 1, 28, 28)
        self.frames = frames
        self.due: list[int] | None = None  # the steps still to snapshot, once the run's length is known
        self.last: Frame | None = None

    @torch.no_grad()
    def __call__(self, progress) -> Frame | None:
        model = progress.model
        if self.due is None:
            self.due = schedule(progress.steps_per_epoch * progress.epochs, self.frames)
        # >=, not ==: on a GPU the callback comes only every few steps.
        if progress.kind != "step" or model is None or not self.due or progress.step < self.due[0]:
            return None
        self.due = [s for s in self.due if s > progress.step]
        if model.latent_dim != 2:
            raise ValueError("watching a model learn draws its 2-D map: train a model with latent_dim 2")
        codes = torch.cat([model.encode(self.x[s:s + 1000].to(next(model.parameters()).device))[0].float().cpu()
                           for s in range(0, len(self.x), 1000)]).numpy()
        drawn, _ = latent.manifold(model, n=GRID, extent=EXTENT)
        self.last = Frame(progress.step, progress.images_seen, progress.epoch, float(progress.loss),
                          codes.astype(np.float32), drawn)
        return self.last
