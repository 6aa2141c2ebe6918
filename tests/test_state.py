"""What every visitor shares (ui/state.py): the trained models' caps and names, background work."""

import os
import re
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pytest

from ui import common, state
from ui.state import CTX


def test_trained_models_are_capped_per_visitor_and_in_all_oldest_first(tmp_path, monkeypatch):
    from vae_core import VAE, ModelConfig, save_checkpoint
    from ui import state

    monkeypatch.setenv("VAE_MODELS_DIR", str(tmp_path / "shipped"))
    monkeypatch.setenv("VAE_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setattr(state, "TRAINED_MODELS", 5)
    model = VAE(ModelConfig(latent_dim=4, width=8))
    save_checkpoint(tmp_path / "shipped" / "main", model, {"beta": 1.0})
    ctx = state.Context(tmp_path)

    def trained(name, owner, age):
        save_checkpoint(tmp_path / "runs" / name, model, {"beta": 1.0})
        os.utime(tmp_path / "runs" / name, (time.time() - age, time.time() - age))
        ctx.registry.add(tmp_path / "runs" / name, owner=owner)
    for i in range(4):
        trained(f"a{i}", "visitor-a", 100 - i)  # a0 is the oldest
    trained("b0", "visitor-b", 200)
    ctx.make_room("visitor-a")  # a new run of a's: a keeps at most 2 before it, the oldest go
    assert sorted(ctx.registry.names()) == ["a2", "a3", "b0", "main"]
    trained("c0", "visitor-c", 50)
    trained("c1", "visitor-c", 40)
    ctx.make_room("visitor-c")  # 5 trained in all: the oldest of anyone's (b0) goes, never a shipped one
    assert sorted(ctx.registry.names()) == ["a2", "a3", "c0", "c1", "main"]
    assert not (tmp_path / "runs" / "b0").exists() and (tmp_path / "shipped" / "main").exists()


def test_no_visitors_trainings_remove_the_model_of_another_visitor_still_here(tmp_path, monkeypatch):
    from vae_core import VAE, ModelConfig, save_checkpoint
    from ui import state

    monkeypatch.setenv("VAE_MODELS_DIR", str(tmp_path / "shipped"))
    monkeypatch.setenv("VAE_RUNS_DIR", str(tmp_path / "runs"))
    model = VAE(ModelConfig(latent_dim=4, width=8))
    ctx = state.Context(tmp_path)
    now = [1000.0]
    ctx.clock = lambda: now[0]
    made = []

    def run(owner):  # a short run: room made, then its model saved and listed
        ctx.make_room(owner)
        name = f"{owner}-{len(made)}"
        save_checkpoint(tmp_path / "runs" / name, model, {"beta": 1.0})
        os.utime(tmp_path / "runs" / name, (1e9 + len(made), 1e9 + len(made)))  # oldest first, as made
        ctx.registry.add(tmp_path / "runs" / name, owner=owner)
        made.append(name)
    for owner in ("ann", "bob", "cat", "dan", "eve", "fay", "gus"):
        run(owner)  # seven visitors' models, all of them still on the page
    theirs = list(made)
    refused = []
    for i in range(12):  # twelve short runs from three sessions of one script
        try:
            run(f"script{i % 3}")
        except state.NoRoom as e:
            refused.append(str(e))
    assert set(theirs) <= set(ctx.registry.names())  # everyone else's models are all still there
    assert len(ctx.registry.trained()) == state.TRAINED_MODELS
    assert len(refused) == 7 and refused[0].startswith("The app keeps at most 12 models trained by visitors")
    now[0] += state.AWAY_SECONDS + 1  # the seven have left; the script is still here
    run("script2")
    assert "ann-0" not in ctx.registry.names() and set(theirs[1:]) <= set(ctx.registry.names())  # the oldest left


def test_a_trained_models_name_cannot_be_guessed_from_the_time_it_was_made():
    from ui.state import trained_model_name

    names = {trained_model_name("learn-z2") for _ in range(50)}
    assert len(names) == 50 and all(re.fullmatch(r"learn-z2-\d{6}-[0-9a-f]{8}", n) for n in names)


def test_unfinished_and_running_trainings_are_named_as_such(tmp_path, monkeypatch):
    from vae_core import VAE, ModelConfig, save_checkpoint
    from ui import state
    from ui.page import model_summary

    monkeypatch.setenv("VAE_RUNS_DIR", str(tmp_path / "runs"))
    ctx = state.Context(tmp_path)
    model = VAE(ModelConfig(latent_dim=4, width=8))
    save_checkpoint(tmp_path / "runs" / "half", model, {"beta": 1.0, "progress": {"epoch": 2, "epochs": 5}})
    save_checkpoint(tmp_path / "runs" / "whole", model, {"beta": 1.0, "progress": {"epoch": 5, "epochs": 5}})
    ctx.registry.add(tmp_path / "runs" / "half", owner="v")
    ctx.registry.add(tmp_path / "runs" / "whole", owner="v")
    labels = dict((n, label) for label, n in ctx.model_choices("v"))
    assert "unfinished: stopped after 2 of 5 epochs" in labels["half"] and "trained here" in labels["whole"]
    assert labels["whole"].startswith("whole (4 numbers, β 1")  # the model card's words, not "latent 4"
    ctx.training_now.add("half")
    assert "still training: 2 of 5 epochs so far" in dict((n, lb) for lb, n in ctx.model_choices("v"))["half"]
    # A visitor's trained models are theirs: another visitor's menus list only the shipped ones.
    assert {n for _, n in ctx.model_choices("someone else")} == set()
    monkeypatch.setattr("ui.page.CTX", ctx)
    assert "still training" in model_summary("half")


def test_background_work_runs_one_job_at_a_time_at_low_priority():
    running, most, niceness = [0], [0], []
    lock = threading.Lock()

    def job():
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        niceness.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        time.sleep(0.05)
        with lock:
            running[0] -= 1
    threads = [CTX.background.start(job) for _ in range(3)]
    for t in threads:
        t.join(5)
    assert most[0] == 1 and len(niceness) == 3
    assert all(n >= os.getpriority(os.PRIO_PROCESS, 0) + 1 for n in niceness)  # below the server's priority


def test_a_visitor_is_recognised_by_the_id_their_browser_keeps():
    ctx = state.Context(Path("/nonexistent"))
    first = ctx.recognise("page-1", None)  # a browser with nothing kept: a new random id
    assert re.fullmatch(r"[0-9a-f]{32}", first) and ctx.owner_of("page-1") == first
    assert ctx.recognise("page-2", first) == first  # a reload (or a restart of the app): the same visitor
    assert ctx.recognise("page-3", "x" * 32) != "x" * 32  # not an id the app gives: a new one
    assert ctx.owner_of("a-script's-session") == "a-script's-session"  # no page: its session is its own


def _trained(runs: Path, name: str, owner: str | None, ctx, days_old: float = 0.0) -> None:
    from vae_core import VAE, ModelConfig, save_checkpoint

    save_checkpoint(runs / name, VAE(ModelConfig(latent_dim=2, width=8)), {"beta": 1.0})
    ctx.registry.add(runs / name, owner=owner)
    old = time.time() - days_old * 86400
    os.utime(runs / name, (old, old))


def test_a_trained_model_is_still_its_visitors_after_a_restart_and_nobody_elses(tmp_path, monkeypatch):
    from gradio.context import LocalContext

    monkeypatch.setenv("VAE_RUNS_DIR", str(tmp_path / "runs"))
    before = state.Context(tmp_path)
    _trained(tmp_path / "runs", "mine", "a" * 32, before)
    after = state.Context(tmp_path)  # the app started again: only the folders remain
    assert after.registry.entry("mine").owner == "a" * 32
    after.recognise("new-page", "a" * 32)  # the same browser, reloaded
    assert "mine" in {n for _, n in after.model_choices(after.owner_of("new-page"))}
    assert "mine" not in {n for _, n in after.model_choices("b" * 32)}
    monkeypatch.setattr(common, "CTX", after)
    token = LocalContext.request.set(SimpleNamespace(session_hash="someone-else"))
    try:  # the API agrees with the menus: another visitor's request is told there is no such model
        with pytest.raises(gr.Error, match="There is no model called 'mine'"):
            common.get_model("mine")
        LocalContext.request.set(SimpleNamespace(session_hash="new-page"))
        assert common.get_model("mine").latent_dim == 2
    finally:
        LocalContext.request.reset(token)
    assert common.get_model("mine").latent_dim == 2  # the server's own work, with no visitor's request


def test_models_whose_visitors_never_came_back_are_removed_after_a_week(tmp_path, monkeypatch):
    monkeypatch.setenv("VAE_RUNS_DIR", str(tmp_path / "runs"))
    ctx = state.Context(tmp_path)
    _trained(tmp_path / "runs", "abandoned", "a" * 32, ctx, days_old=state.KEPT_DAYS + 1)
    _trained(tmp_path / "runs", "nobodys", None, ctx, days_old=state.KEPT_DAYS + 1)
    _trained(tmp_path / "runs", "recent", "a" * 32, ctx, days_old=1)
    _trained(tmp_path / "runs", "back", "b" * 32, ctx, days_old=state.KEPT_DAYS + 1)
    ctx.recognise("page", "b" * 32)  # its visitor came back
    assert sorted(ctx.tidy()) == ["abandoned", "nobodys"]
    assert sorted(ctx.registry.names()) == ["back", "recent"] and not (tmp_path / "runs" / "abandoned").exists()
