"""pythae, the unified VAE library a user would pick instead, as a peer in the training benchmarks.

Our default network (the same modules, the same initial weights) is trained through pythae's own
model class and trainer: its BaseDataset and DataLoader (one item at a time, then collated), its Adam
and its loss (BCE on the decoder's sigmoid, summed per image, plus the KL, averaged over the batch),
with our batch size and learning rate, decayed as ours is (cosine to lr/100, by pythae's scheduler, per
epoch). pythae has no dynamic binarisation, so the training images are drawn again in place at the
start of every epoch: the same data as ours, a fresh Bernoulli draw per epoch rather than per batch.
pythae is never a runtime dependency: `pip install -r requirements-bench.txt`.
"""

from __future__ import annotations

import tempfile
import time
from typing import Callable

import torch

from vae_core import PRESETS, data
from vae_core.model import VAE


def available() -> str | None:
    """None where pythae imports and runs here, else the error as one line (for RESULTS.md)."""
    try:
        import pythae  # noqa: F401
        from pythae.models import VAE as _VAE  # noqa: F401
        from pythae.trainers import BaseTrainer  # noqa: F401
    except Exception as e:  # any import failure is the finding: the peer cannot run with our pins
        return f"{type(e).__name__}: {e}"
    return None


class Peer:
    """Our network (the default preset's unless `model_cfg` says another) inside pythae's VAE; `ours` is a
    vae_core.VAE sharing the very same modules."""

    def __init__(self, mnist: data.MNIST, device: torch.device, lr: float, batch_size: int, seed: int = 0,
                 limit: int = 0, model_cfg=None):
        from pythae.data.datasets import BaseDataset
        from pythae.models import VAE as PythaeVAE, VAEConfig
        from pythae.models.base.base_utils import ModelOutput
        from pythae.models.nn import BaseDecoder, BaseEncoder

        torch.manual_seed(seed)
        self.ours = VAE(model_cfg or PRESETS["default"].model)
        latent = self.ours.latent_dim

        class Encoder(BaseEncoder):
            def __init__(self, net):
                super().__init__()
                self.net = net

            def forward(self, x):
                mu, logvar = self.net(x).chunk(2, dim=1)
                return ModelOutput(embedding=mu, log_covariance=logvar)

        class Decoder(BaseDecoder):
            def __init__(self, net):
                super().__init__()
                self.net = net

            def forward(self, z):
                return ModelOutput(reconstruction=torch.sigmoid(self.net(z)))

        config = VAEConfig(input_dim=(1, 28, 28), latent_dim=latent, reconstruction_loss="bce")
        self.model = PythaeVAE(config, encoder=Encoder(self.ours.encoder), decoder=Decoder(self.ours.decoder))
        self.grey = data.to_float(mnist.train_images[:limit] if limit else mnist.train_images)
        self.draws = torch.Generator().manual_seed(seed)
        self.dataset = BaseDataset(data.binarize(self.grey, self.draws), torch.zeros(len(self.grey)))
        self.device, self.lr, self.batch_size = device, lr, batch_size
        self.out = tempfile.TemporaryDirectory(prefix="pythae-peer-")

    def redraw(self) -> None:
        """A fresh binarisation of the training images, in place (pythae's loader reads this tensor)."""
        self.dataset.data.copy_(data.binarize(self.grey, self.draws))

    def train(self, epochs: int, on_step: Callable[[], None] | None = None,
              on_epoch: Callable[[int], None] | None = None) -> None:
        """pythae's BaseTrainer for `epochs`; on_step after every step, on_epoch(epoch) after every epoch."""
        from pythae.trainers import BaseTrainer, BaseTrainerConfig
        from pythae.trainers.training_callbacks import TrainingCallback

        peer = self

        class Hooks(TrainingCallback):
            def on_epoch_begin(self, training_config, **kwargs):
                peer.redraw()

            def on_train_step_end(self, training_config, **kwargs):
                if on_step:
                    on_step()

            def on_epoch_end(self, training_config, **kwargs):
                self.epoch = getattr(self, "epoch", 0) + 1
                if on_epoch:
                    on_epoch(self.epoch)

        cfg = BaseTrainerConfig(output_dir=self.out.name, num_epochs=epochs, learning_rate=self.lr,
                                per_device_train_batch_size=self.batch_size, optimizer_cls="Adam",
                                scheduler_cls="CosineAnnealingLR",
                                scheduler_params={"T_max": epochs, "eta_min": self.lr / 100},
                                no_cuda=self.device.type != "cuda", steps_saving=None)
        BaseTrainer(self.model, self.dataset, training_config=cfg, callbacks=[Hooks()]).train()


class StopRound(Exception):
    """Raised from a step hook to end a timed round inside pythae's trainer."""


def timed_round(peer: Peer, seconds: float, warmup_steps: int) -> float:
    """pythae's trainer for about `seconds`; images per second after the warm-up steps."""
    marks: list[float] = []

    def on_step():
        marks.append(time.perf_counter())
        if len(marks) > 2 * warmup_steps and marks[-1] - marks[warmup_steps] > seconds:
            raise StopRound
    try:
        peer.train(1000, on_step=on_step)
    except StopRound:
        pass
    if len(marks) <= warmup_steps + 1:
        return 0.0
    return (len(marks) - 1 - warmup_steps) * peer.batch_size / (marks[-1] - marks[warmup_steps])
