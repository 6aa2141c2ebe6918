"""The pages' side of training (ui/training.py): joining the line, sentences, Cancel and leaving."""

from types import SimpleNamespace

from conftest import run_async
from ui import trainer, training
from ui.views import beta, learn
from vae_core.worker import Outcome


def _said(generator) -> list:
    async def go():
        return [out async for out in generator]
    return run_async(go())


def test_a_training_run_that_fails_says_why_without_the_servers_folders(mnist, monkeypatch):
    class Failing:  # a run whose process ended with an error, before its first step
        def __init__(self, *args, **kwargs):
            self.outcome = Outcome(error="OSError: [Errno 28] No space left on device: '/srv/app/runs/x/model.tmp'")

        def updates(self, cancel_when):
            return iter(())

        def close(self):
            pass
    monkeypatch.setattr(trainer, "TrainingProcess", Failing)
    monkeypatch.setattr(training, "TRAINER", trainer.Trainer(slots=1))
    visitor = SimpleNamespace(session_hash="v", client=None, headers={})
    said = [status for status, _ in _said(beta.train_beta(1.0, 1, 500, visitor))]
    assert said[-1] == ("Training stopped: OSError: [Errno 28] No space left on device: 'model.tmp'. "
                        "Nothing was added.")
    assert training.TRAINER.running() == 0  # the failed run gave the trainer back
    said = [status for status, _ in _said(learn.learn(1000, 1, visitor))]
    assert said[-1].startswith("Training stopped: OSError") and training.TRAINER.running() == 0


def test_cancel_and_closing_the_tab_stop_that_visitors_run_only(monkeypatch):
    stopped = []
    monkeypatch.setattr(training.TRAINER, "cancel", lambda owner: stopped.append(owner) or owner == "v1")
    assert training.cancel(SimpleNamespace(session_hash="v1")) == "Cancelling your run…"
    assert training.cancel(SimpleNamespace(session_hash="v2")) == "You have no run to cancel."
    training.visitor_left(SimpleNamespace(session_hash="v3"))
    assert stopped == ["v1", "v2", "v3"]


def test_a_place_in_line_is_said_in_plain_words():
    assert training.in_words(trainer.Waiting(1, 12)) == "next in line for the trainer, starting in about 10 s"
    assert training.in_words(trainer.Waiting(3, 200)) == "3rd in line for the trainer, starting in about 3 min"
    assert training.in_words(trainer.Waiting(11, 0)).startswith("11th in line")
