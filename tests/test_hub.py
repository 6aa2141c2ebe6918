"""Models shared the Hugging Face way, tested with no network: the model card, the zip the app offers,
loading a Hub repo id from the Hub's local cache, and what a push would upload."""

import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch

from conftest import MAIN, ROOT
from vae_core import CheckpointError, hub, load_model

SHIPPED = ROOT / "checkpoints" / MAIN


def _same_weights(a, b) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_the_model_card_says_what_the_model_is_and_how_good_with_its_own_figures():
    card = hub.model_card(SHIPPED)
    metrics = json.loads((SHIPPED / "metrics.json").read_text())
    assert card.startswith("---\nlibrary_name: pytorch\n") and "- vae\n" in card and "- mnist\n" in card
    assert f"**{metrics['test']['nll']:.2f} nats**" in card and "k = 1000" in card
    assert "32 latent numbers" in card and "KL weight beta = 1" in card
    assert metrics["training"]["command"] in card and "vae_core.load_model('mnist-z32')" in card


def test_the_zip_unzips_into_a_folder_that_loads_and_is_the_same_every_time(tmp_path):
    content = hub.zip_bytes(SHIPPED, "someone/my-vae")
    assert content == hub.zip_bytes(SHIPPED, "someone/my-vae")  # the same file for every visitor
    with zipfile.ZipFile(io.BytesIO(content)) as z:
        assert sorted(z.namelist()) == sorted(f"someone--my-vae/{f}" for f in (
            "model.safetensors", "config.json", "metrics.json", "concepts.safetensors", "README.md"))
        z.extractall(tmp_path)
    folder = tmp_path / "someone--my-vae"
    assert _same_weights(load_model(folder), load_model(SHIPPED))
    assert "# someone/my-vae" in (folder / "README.md").read_text()


def _hub_cache(tmp_path: Path, repo_id: str) -> Path:
    """A Hugging Face cache holding repo_id at one commit, laid out as huggingface_hub lays it out."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / f"models--{repo_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    shutil.copytree(SHIPPED, repo / "snapshots" / commit)
    return tmp_path / "hub"


def test_a_hub_repo_id_loads_from_the_hubs_cache_with_no_network(tmp_path):
    cache = _hub_cache(tmp_path, "someone/my-vae")
    env = {**os.environ, "HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    script = ("import torch, vae_core; a = vae_core.load_model('someone/my-vae'); "
              f"b = vae_core.load_model({str(SHIPPED)!r}); "
              "print(all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values())))\n"
              "try:\n    vae_core.load_model('someone/not-there')\nexcept vae_core.CheckpointError as e:\n    print(e)")
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    same, missing = out.stdout.strip().splitlines()
    assert same == "True"
    assert missing.startswith("someone/not-there: could not be fetched from the Hugging Face Hub or found in its cache")


def test_a_folder_is_never_taken_for_a_repo_id_and_junk_is_neither():
    assert hub.is_repo_id("someone/my-vae") and not hub.is_repo_id(str(SHIPPED))
    assert not hub.is_repo_id("../../etc/passwd") and not hub.is_repo_id("a/b/c")
    with pytest.raises(CheckpointError, match="neither a checkpoint folder nor a Hub repo id"):
        hub.download("not a repo")


def test_a_push_writes_the_card_and_uploads_only_the_models_own_files(tmp_path, monkeypatch):
    import huggingface_hub

    folder = tmp_path / "mnist-z32"
    shutil.copytree(SHIPPED, folder)
    (folder / "training_state.safetensors").write_bytes(b"optimizer moments: never shared")
    calls = []
    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", lambda self, repo_id, **kw: calls.append(("create", repo_id, kw)))
    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", lambda self, **kw: calls.append(("upload", kw)))
    assert hub.push(folder, "someone/my-vae") == "https://huggingface.co/someone/my-vae"
    (_, repo_id, create), (_, upload) = calls
    assert repo_id == "someone/my-vae" and create["repo_type"] == "model" and create["exist_ok"]
    assert upload["folder_path"] == str(folder) and upload["repo_id"] == "someone/my-vae"
    assert "training_state.safetensors" not in upload["allow_patterns"] and "README.md" in upload["allow_patterns"]
    assert "# someone/my-vae" in (folder / "README.md").read_text()


def test_the_app_offers_the_model_shown_as_a_zip_and_opens_on_a_model_named_at_start(tmp_path, monkeypatch):
    from ui import page, state

    path = page.model_zip(MAIN)["value"]
    assert path.endswith("mnist-z32.zip")
    with zipfile.ZipFile(path) as z:
        z.extractall(tmp_path)
    assert _same_weights(load_model(tmp_path / "mnist-z32"), load_model(SHIPPED))
    assert page.model_zip("no-such-model")["visible"] is False
    monkeypatch.setenv("VAE_RUNS_DIR", str(tmp_path / "runs"))
    ctx = state.Context(tmp_path)
    mine = tmp_path / "elsewhere" / "my-vae"
    shutil.copytree(SHIPPED, mine)
    assert ctx.open_on(str(mine)) == "my-vae" and ctx.default_model() == "my-vae"
    ctx.registry.refresh()
    assert "my-vae" in {n for _, n in ctx.model_choices("anyone")}  # everyone's, like a shipped model
    with pytest.raises(CheckpointError):
        ctx.open_on(str(tmp_path / "nothing-here"))


def test_a_page_opens_on_a_shipped_model_never_a_visitors_own(tmp_path, monkeypatch):
    # With the usual first models broken (left out), every page opened on one visitor's trained model.
    from ui import state

    monkeypatch.setenv("VAE_RUNS_DIR", str(tmp_path / "runs"))
    shutil.copytree(SHIPPED, tmp_path / "checkpoints" / "z-shipped")
    ctx = state.Context(tmp_path)
    shutil.copytree(SHIPPED, tmp_path / "runs" / "a-visitors-own")
    ctx.registry.add(tmp_path / "runs" / "a-visitors-own", owner="someone")
    assert "a-visitors-own" in ctx.registry.names() and ctx.default_model() == "z-shipped"


def test_on_a_space_with_persistent_storage_trained_models_and_caches_go_there(tmp_path, monkeypatch):
    from ui import state

    storage = tmp_path / "data"
    storage.mkdir()
    monkeypatch.delenv("SPACE_ID", raising=False)
    assert state.storage_root(tmp_path / "app", storage) == tmp_path / "app"  # not a Space
    monkeypatch.setenv("SPACE_ID", "someone/vae-explorer")
    assert state.storage_root(tmp_path / "app", storage) == storage / "vae-explorer"
    assert state.storage_root(tmp_path / "app", tmp_path / "no-storage") == tmp_path / "app"  # a Space without it
