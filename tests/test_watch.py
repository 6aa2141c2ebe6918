"""Watching a model learn: when snapshots are taken, what they hold, and that taking them changes nothing."""

import numpy as np
import pytest
import torch

from vae_core import data, watch
from vae_core.config import TrainConfig
from vae_core.model import ModelConfig
from vae_core.train import train


def test_snapshots_come_closer_together_at_the_start_and_end_on_the_last_step():
    steps = watch.schedule(240, 40)
    assert steps[0] == 1 and steps[-1] == 240 and steps == sorted(set(steps)) and 25 <= len(steps) <= 40
    gaps = np.diff(steps)
    assert gaps[:5].max() < gaps[-5:].min()
    assert watch.schedule(3, 40) == [1, 2, 3]  # a short run: every step
    with pytest.raises(ValueError):
        watch.schedule(0, 10)


def test_snapshots_show_the_map_and_leave_the_training_exactly_as_it_was(mnist):
    cfg = TrainConfig(epochs=2, val_size=0, train_limit=500, batch_size=128)
    model_cfg = ModelConfig(latent_dim=2, width=8)
    frames = []
    recorder = watch.Recorder(mnist.test_images[:50], frames=6)
    watched = train(model_cfg, cfg, mnist, callback=lambda p: recorder(p) and frames.append(recorder.last))
    plain = train(model_cfg, cfg, mnist)
    for a, b in zip(watched.model.state_dict().values(), plain.model.state_dict().values()):
        assert torch.equal(a, b)  # no gradient, no random number taken from the run
    assert [f.step for f in frames] == watch.schedule(8, 6)  # 500 digits / 128 = 4 steps a pass, 2 passes
    last = frames[-1]
    assert last.epoch == 2 and last.images_seen == 2 * 500 and np.isfinite(last.loss)  # the 4th batch is 116
    assert [f.images_seen for f in frames[:2]] == [128, 256]
    assert last.codes.shape == (50, 2) and last.drawn.shape == (watch.GRID * 28,) * 2 and last.drawn.dtype == np.uint8
    with torch.no_grad():  # the last snapshot is the trained model's own map
        mu, _ = watched.model.encode(data.to_float(mnist.test_images[:50]))
    assert np.allclose(last.codes, mu.numpy(), atol=1e-5)
    assert not np.allclose(frames[0].codes, last.codes)


def test_only_a_2d_model_has_a_map_to_watch(mnist):
    recorder = watch.Recorder(mnist.test_images[:10], frames=4)
    with pytest.raises(ValueError, match="latent_dim 2"):
        train(ModelConfig(latent_dim=4, width=8), TrainConfig(epochs=1, val_size=0, train_limit=256), mnist,
              callback=recorder)
