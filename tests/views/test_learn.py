"""The Watch it learn view (its player is tested in Chromium: tests/browser/test_learning.py)."""

import base64
import io
import json

import numpy as np
import pytest

from conftest import run_async
from PIL import Image

from ui.views import learn
from vae_core.watch import Frame
from vae_core.worker import Outcome


def test_a_frame_goes_to_the_page_as_16_bit_codes_across_the_map_and_a_png(mnist):
    rng = np.random.default_rng(0)
    codes = np.clip(rng.normal(0, 2, (1000, 2)), -9, 9).astype(np.float32)
    update = Frame(step=3, images_seen=384, epoch=1, loss=166.66, codes=codes, drawn=np.full((224, 224), 60, np.uint8))
    frame = learn.page_frame(update, 2)
    assert {k: frame[k] for k in ("epochs", "step", "images_seen", "epoch", "loss")} == \
        {"epochs": 2, "step": 3, "images_seen": 384, "epoch": 1, "loss": 166.7}
    back = np.frombuffer(base64.b64decode(frame["codes"]), "<u2").reshape(-1, 2) / 65535 * 2 * learn.RANGE - learn.RANGE
    inside = np.abs(codes).max(1) <= learn.RANGE
    assert np.abs(back[inside] - codes[inside]).max() < 2 * learn.RANGE / 65535  # as the player reads them
    assert np.abs(back[~inside]).max(1) == pytest.approx(learn.RANGE)  # the few past the edge sit on it
    with Image.open(io.BytesIO(base64.b64decode(frame["drawn"].split(",")[1]))) as drawn:
        assert drawn.size == (224, 224) and np.asarray(drawn).max() == 60


def test_the_shipped_recording_is_a_whole_run_of_the_views_own_recipe():
    recording = json.loads(learn.RECORDING.read_text())
    recipe, frames = recording["recipe"], recording["frames"]
    assert (recipe["digits"], recipe["passes"]) == (learn.DIGITS.default, learn.PASSES.default)
    assert len(recording["labels"]) == learn.WATCHED and 20 <= len(frames) <= learn.FRAMES
    seen = [f["images_seen"] for f in frames]
    assert seen == sorted(seen) and frames[-1]["epoch"] == recipe["passes"]
    assert frames[-1]["loss"] < frames[0]["loss"] - 100  # it learnt
    assert learn.RECORDING_URL.endswith("-watch-it-learn.json")


def test_cancelling_in_the_first_pass_says_so_and_keeps_the_frames_drawn(mnist, monkeypatch):
    """Cancelled in its first pass, the view answered a bare error (its replay slider's maximum became 0)."""
    from types import SimpleNamespace

    from ui import trainer, training

    frame = Frame(step=1, images_seen=128, epoch=1, loss=480.0, codes=np.zeros((1000, 2), np.float32),
                  drawn=np.zeros((224, 224), np.uint8))

    class CancelledEarly:  # one frame, then the visitor's Cancel, before the first pass ends
        def __init__(self, *args, **kwargs):
            self.outcome = Outcome(epochs=0, cancelled=True, seconds=1.0, device="cpu")

        def updates(self, cancel_when):
            yield frame

        def close(self):
            pass
    monkeypatch.setattr(trainer, "TrainingProcess", CancelledEarly)
    monkeypatch.setattr(training, "TRAINER", trainer.Trainer(slots=1))

    async def run():
        return [out async for out in learn.learn(1000, 1, SimpleNamespace(session_hash="v", headers={}, client=None))]
    said = run_async(run())
    status, player = said[-1]
    assert status == "Cancelled before the first pass ended: no model was kept."
    assert player["done"] and len(player["frames"]) == 1  # the frame it drew stays, to look at again
