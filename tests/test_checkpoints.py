"""Checkpoints: safetensors + JSON, atomic, and one clear error for every kind of bad file."""

import json
import os
import pickle
import time
from pathlib import Path

import pytest
import torch

from vae_core import CheckpointError, VAE, ModelConfig, checkpoints, load_model, save_checkpoint
from vae_core.checkpoints import CONFIG, WEIGHTS, list_checkpoints, update_metrics


def _model(latent_dim=4):
    torch.manual_seed(0)
    return VAE(ModelConfig(latent_dim=latent_dim, width=8)).eval()


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_round_trip_reproduces_outputs_exactly(tmp_path):
    model = _model()
    save_checkpoint(tmp_path / "m", model, {"beta": 2.0}, {"note": 1})
    loaded = load_model(tmp_path / "m")
    x = torch.rand(5, 1, 28, 28)
    assert not loaded.training
    assert torch.equal(model.encode(x)[0], loaded.encode(x)[0])
    assert torch.equal(model.decode(torch.ones(2, 4)), loaded.decode(torch.ones(2, 4)))
    cfg = json.loads((tmp_path / "m" / CONFIG).read_text())
    assert (cfg["latent_dim"], cfg["beta"], cfg["likelihood"]) == (4, 2.0, "bernoulli")
    assert [c["name"] for c in list_checkpoints(tmp_path)] == ["m"]


def test_save_replaces_atomically_and_leaves_no_temporaries(tmp_path):
    save_checkpoint(tmp_path / "m", _model(4), {"beta": 1.0})
    save_checkpoint(tmp_path / "m", _model(6), {"beta": 1.0})
    assert load_model(tmp_path / "m").latent_dim == 6
    assert [p.name for p in tmp_path.iterdir()] == ["m"]


def test_a_failed_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    save_checkpoint(tmp_path / "m", _model(), {"beta": 1.0})
    before = _snapshot(tmp_path / "m")

    def boom(*a, **k):
        raise OSError("disk full")
    monkeypatch.setattr("vae_core.checkpoints._write_json", boom)
    with pytest.raises(OSError):
        save_checkpoint(tmp_path / "m", _model(6), {"beta": 1.0})
    assert _snapshot(tmp_path / "m") == before
    assert [p.name for p in tmp_path.iterdir()] == ["m"]


def _truncate(folder):
    raw = (folder / WEIGHTS).read_bytes()
    (folder / WEIGHTS).write_bytes(raw[: len(raw) // 2])


def _corrupt(folder):
    raw = bytearray((folder / WEIGHTS).read_bytes())
    raw[10:40] = b"\xff" * 30  # inside the JSON header
    (folder / WEIGHTS).write_bytes(bytes(raw))


def _mismatch(folder):
    cfg = json.loads((folder / CONFIG).read_text())
    cfg["model"]["latent_dim"] = 8
    (folder / CONFIG).write_text(json.dumps(cfg))


def _pickle(folder):
    (folder / WEIGHTS).write_bytes(pickle.dumps({"weights": [1, 2, 3]}))


def _foreign_config(folder):
    (folder / CONFIG).write_text(json.dumps({"architectures": ["BertModel"]}))


def _missing_weights(folder):
    (folder / WEIGHTS).unlink()


def _linked_weights(folder):
    (folder / WEIGHTS).unlink()
    (folder / WEIGHTS).symlink_to("/etc/passwd")


def _beta_in_words(folder):
    cfg = json.loads((folder / CONFIG).read_text())
    cfg["beta"] = "high"
    (folder / CONFIG).write_text(json.dumps(cfg))


@pytest.mark.parametrize("damage, message", [
    (_truncate, "model.safetensors: not a readable safetensors file"),
    (_corrupt, "model.safetensors: not a readable safetensors file"),
    (_mismatch, "model.safetensors: does not match config.json"),
    (_pickle, "model.safetensors: not a readable safetensors file"),
    (_foreign_config, "config.json: not a vae_core checkpoint"),
    (_missing_weights, "model.safetensors: missing"),
    (_linked_weights, "model.safetensors: a link, not a file"),
    (_beta_in_words, "config.json: beta must be a number"),
])
def test_bad_checkpoints_give_one_clear_error_and_change_nothing(tmp_path, damage, message, caplog):
    folder = tmp_path / "m"
    save_checkpoint(folder, _model(), {"beta": 1.0})
    save_checkpoint(tmp_path / "good", _model(), {"beta": 1.0})
    damage(folder)
    before = _snapshot(folder)
    with pytest.raises(CheckpointError, match=message):
        load_model(folder)
    assert _snapshot(folder) == before
    # Listing leaves the damaged folder out, says so in one line, and keeps the good one.
    assert [c["name"] for c in list_checkpoints(tmp_path)] == ["good"]
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and lines[0].startswith("checkpoint left out:") and message in lines[0]


def test_weights_that_are_not_finite_are_refused_when_loaded(tmp_path):
    # A diverged run, or a file of the right size and header filled with NaN: it loaded, and answered NaN.
    folder = tmp_path / "m"
    model = _model()
    with torch.no_grad():
        next(model.parameters()).fill_(float("nan"))
    save_checkpoint(folder, model, {"beta": 1.0})
    with pytest.raises(CheckpointError, match="not finite"):
        load_model(folder)


def test_a_pickle_file_is_refused_without_being_unpickled(tmp_path, monkeypatch):
    path = tmp_path / "model.pt"
    torch.save({"x": torch.ones(1)}, path)
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: pytest.fail("unpickled"))
    with pytest.raises(CheckpointError, match="not a checkpoint folder"):
        load_model(path)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_model(tmp_path / "nothing")


def test_update_metrics_merges(tmp_path):
    save_checkpoint(tmp_path / "m", _model(), {"beta": 1.0}, {"training": {"seconds": 3}})
    update_metrics(tmp_path / "m", {"test": {"nll": 90.0}})
    metrics = json.loads((tmp_path / "m" / "metrics.json").read_text())
    assert metrics == {"training": {"seconds": 3}, "test": {"nll": 90.0}}


CRASH = """
import os, sys, torch
sys.path.insert(0, sys.argv[1])
from vae_core import VAE, ModelConfig, checkpoints
folder, when = sys.argv[2], sys.argv[3]
torch.manual_seed(0)
model = VAE(ModelConfig(latent_dim=6, width=8))
real_rename, real_save = os.rename, checkpoints.save_file
def rename(src, dst):
    real_rename(src, dst)
    if when == "between renames" and ".old-" in str(dst):
        os._exit(137)  # killed after the old folder moved aside, before the new one took its name
    if when == "after renames" and ".tmp-" in str(src):
        os._exit(137)  # killed with the new folder in place, before the old one was removed
def save_file(tensors, path):
    if when == "before writing":
        os._exit(137)  # killed with its temporary folder made and empty
    if when == "while writing":
        open(path, "wb").write(b"half a file")
        os._exit(137)
    real_save(tensors, path)
checkpoints.os.rename, checkpoints.save_file = rename, save_file
checkpoints.save_checkpoint(folder, model, {"beta": 1.0})
"""


def _crash(tmp_path, when):
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    run = subprocess.run([sys.executable, "-c", CRASH, str(root), str(tmp_path / "m"), when], timeout=120)
    assert run.returncode == 137


def _age(tmp_path, seconds):
    for p in tmp_path.iterdir():
        os.utime(p, (time.time() - seconds, time.time() - seconds))


@pytest.mark.parametrize("when, latent_dim", [("between renames", 6), ("while writing", 4)])
def test_a_save_killed_midway_leaves_a_whole_checkpoint_under_its_name(tmp_path, when, latent_dim):
    save_checkpoint(tmp_path / "m", _model(4), {"beta": 1.0})
    _crash(tmp_path, when)
    assert len(list(tmp_path.iterdir())) == 2  # a temporary or old folder was left behind
    _age(tmp_path, 10)
    # Between the renames both copies are whole and the new one wins; a half-written one is ignored.
    assert load_model(tmp_path / "m").latent_dim == latent_dim
    _age(tmp_path, checkpoints.STALE_SECONDS + 10)
    assert [c["name"] for c in list_checkpoints(tmp_path)] == ["m"]
    assert [p.name for p in tmp_path.iterdir()] == ["m"]  # no leftovers once they are stale


@pytest.mark.parametrize("when", ["after renames", "before writing"])
def test_a_resumed_run_leaves_nothing_of_a_killed_save_beside_its_checkpoint(tmp_path, when):
    save_checkpoint(tmp_path / "m", _model(4), {"beta": 1.0})
    _crash(tmp_path, when)
    assert len(list(tmp_path.iterdir())) == 2  # the previous copy, whole, or an empty temporary folder
    _age(tmp_path, 10)
    load_model(tmp_path / "m")  # a --resume a few seconds later: it reads the checkpoint, trains and saves
    save_checkpoint(tmp_path / "m", _model(6), {"beta": 1.0})
    assert [p.name for p in tmp_path.iterdir()] == ["m"] and load_model(tmp_path / "m").latent_dim == 6


def test_a_leftover_is_left_alone_while_its_save_may_still_be_running(tmp_path):
    save_checkpoint(tmp_path / "m", _model(4), {"beta": 1.0})
    _crash(tmp_path, "while writing")
    list_checkpoints(tmp_path)
    assert len(list(tmp_path.iterdir())) == 2  # its writer just gone: young, it may be another machine's
    running = tmp_path / f".m.tmp-{os.getppid()}-abc123"  # a writer that still runs
    running.mkdir()
    _age(tmp_path, 30)
    list_checkpoints(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["m", running.name])  # the dead writer's goes
    _age(tmp_path, checkpoints.STALE_SECONDS + 10)  # untouched for so long: its pid is another process's now
    list_checkpoints(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["m"]


def test_a_save_under_way_in_another_thread_keeps_its_folders_however_old_they_look(tmp_path, monkeypatch):
    import threading

    save_checkpoint(tmp_path / "m", _model(4), {"beta": 1.0})
    real = checkpoints.save_file

    def slow(tensors, path):  # a page load lists the folder meanwhile
        real(tensors, path)
        _age(tmp_path, checkpoints.STALE_SECONDS + 10)
        lister = threading.Thread(target=list_checkpoints, args=(tmp_path,))
        lister.start()
        lister.join()
        assert Path(path).parent.is_dir()
    monkeypatch.setattr(checkpoints, "save_file", slow)
    save_checkpoint(tmp_path / "m", _model(6), {"beta": 1.0})
    assert [p.name for p in tmp_path.iterdir()] == ["m"] and load_model(tmp_path / "m").latent_dim == 6


def test_a_damaged_folder_is_logged_once_however_often_it_is_listed(tmp_path, caplog):
    save_checkpoint(tmp_path / "m", _model(), {"beta": 1.0})
    _truncate(tmp_path / "m")
    for _ in range(3):  # as every page load does
        assert list_checkpoints(tmp_path) == []
    assert len(caplog.records) == 1
    _foreign_config(tmp_path / "m")  # damaged another way: said once more
    list_checkpoints(tmp_path)
    list_checkpoints(tmp_path)
    assert len(caplog.records) == 2 and "not a vae_core checkpoint" in caplog.records[1].getMessage()


def test_halved_weights_take_half_the_bytes_and_load_into_the_same_model(tmp_path):
    model = _model()
    folder = tmp_path / "m"
    save_checkpoint(folder, model, {"beta": 2.0}, {"training": {"seconds": 5}, "test": {"nll": 90.0}})
    before = (folder / WEIGHTS).stat().st_size
    record = checkpoints.halve_weights(folder)
    assert (folder / WEIGHTS).stat().st_size < 0.55 * before
    assert 0 < record["largest_change"] < 1e-3 and record["dtype"] == "float16"
    # The float32 model's test figures are not the halved one's; the rest of metrics.json stays.
    assert checkpoints.read_metrics(folder) == {"training": {"seconds": 5}, "weights": record}
    loaded = load_model(folder)
    assert {p.dtype for p in loaded.state_dict().values()} == {torch.float32}
    x = torch.rand(5, 1, 28, 28)
    assert torch.allclose(model.encode(x)[0], loaded.encode(x)[0], atol=1e-2)
    assert torch.allclose(model.decode(torch.ones(2, 4)), loaded.decode(torch.ones(2, 4)), atol=1e-2)
    assert not torch.equal(model.decode(torch.ones(2, 4)), loaded.decode(torch.ones(2, 4)))
    snapshot = _snapshot(folder)
    assert checkpoints.halve_weights(folder) == record  # halved already: nothing changes
    assert _snapshot(folder) == snapshot
    assert [p.name for p in folder.iterdir() if p.name.startswith(".")] == []


def test_halving_is_refused_for_a_resumable_run_or_a_weight_beyond_float16(tmp_path):
    save_checkpoint(tmp_path / "run", _model(), {"beta": 1.0}, training_state={"step": torch.tensor([3])})
    model = _model()
    with torch.no_grad():
        next(model.parameters())[0] = 1e6
    save_checkpoint(tmp_path / "big", model, {"beta": 1.0})
    for name, message in (("run", "resuming training"), ("big", "beyond float16's range")):
        before = _snapshot(tmp_path / name)
        with pytest.raises(CheckpointError, match=message):
            checkpoints.halve_weights(tmp_path / name)
        assert _snapshot(tmp_path / name) == before


def test_the_shipped_models_fit_in_25_mib_and_each_has_the_test_figures_of_its_own_weights():
    root = Path(__file__).resolve().parents[1] / "checkpoints"
    assert sum(f.stat().st_size for f in root.rglob("*") if f.is_file()) <= 25 * 2**20
    shipped = list_checkpoints(root)
    assert len(shipped) >= 6
    for c in shipped:  # halving drops a model's figures, so figures here are of the weights shipped
        assert c["metrics"]["test"]["images"] >= 2000, c["name"]
