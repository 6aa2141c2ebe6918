"""The app's shared pieces without a server: the training slot and cancelling on tab close."""

import threading
import time
from types import SimpleNamespace

from ui.views import training
from ui.state import CTX, TrainingSlot


def test_training_slot_runs_one_queues_two_and_refuses_the_rest():
    slot = TrainingSlot(max_waiting=2)
    assert slot.try_enter() == 0  # runs now
    assert slot.try_enter() == 1 and slot.try_enter() == 2  # wait in line
    assert slot.try_enter() is None  # the line is full: the visitor is told it is busy
    order = []

    def waiter(tag):
        assert slot.wait_turn(threading.Event())
        order.append(tag)
        time.sleep(0.05)
        slot.leave()
    threads = [threading.Thread(target=waiter, args=(t,)) for t in ("a", "b")]
    for t in threads:
        t.start()
    time.sleep(0.1)
    assert order == []  # still waiting for the first run
    slot.leave()
    for t in threads:
        t.join(5)
    assert sorted(order) == ["a", "b"]
    assert slot.try_enter() == 0


def test_a_waiting_visitor_can_cancel():
    slot = TrainingSlot(max_waiting=1)
    slot.try_enter()
    assert slot.try_enter() == 1
    cancel = threading.Event()
    cancel.set()
    assert slot.wait_turn(cancel, timeout=0.01) is False
    assert slot.try_enter() == 1  # the cancelled visitor left the line


def test_closing_the_tab_cancels_that_visitors_training():
    event = CTX.cancels.setdefault("visitor-1", threading.Event())
    other = CTX.cancels.setdefault("visitor-2", threading.Event())
    training.visitor_left(SimpleNamespace(session_hash="visitor-1"))
    assert event.is_set() and not other.is_set() and "visitor-1" not in CTX.cancels
    training.cancel_training(SimpleNamespace(session_hash="visitor-2"))
    assert other.is_set()
