"""Every benchmark script runs in its --smoke mode, so none of them can rot. No timing is asserted."""

import json
import subprocess
import sys
from pathlib import Path

from conftest import run_smoke as _run

ROOT = Path(__file__).resolve().parents[1]


def test_train_speed_smoke(data_dir):
    out = _run("benchmarks.train_speed", "--device", "cpu", "--bf16").strip().splitlines()
    assert out[-1].startswith("speedup ") and "device cpu" in out[-1]
    assert out[-2].startswith("ours in bf16 against the reference: ")


def test_time_to_quality_smoke(data_dir):
    out = _run("benchmarks.time_to_quality", "--device", "cpu", "--pythae", "--then-epochs", "1", "--then-samples", "2",
               "--decoder-blocks-14x14", "1")
    assert "ours epoch   1:" in out and "ours epoch   2:" in out and "86 nats:" in out  # epoch 2: the bound's
    assert "width 32, residual blocks (encoder, decoder 7x7, 14x14) (0, 1, 1)," in out
    # pythae is a benchmark-only peer (requirements-bench.txt): it runs, or says in one line why it cannot
    assert "pythae epoch   1:" in out or "pythae cannot run here: ModuleNotFoundError" in out


def test_time_to_quality_refuses_a_network_it_cannot_build():
    out = subprocess.run([sys.executable, "-m", "benchmarks.time_to_quality", "--encoder-blocks", "9"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "encoder_blocks must be between 0 and 8, not 9" in out.stderr


def test_finetune_ideas_smoke(data_dir):
    rows = _run("benchmarks.finetune_ideas").strip().splitlines()
    assert rows[2].startswith("| none: the shipped model |")
    assert [r.split(" | ")[0] for r in rows[3:]] == ["| elbo", "| iwae8-encoder", "| iwae8", "| iwae8-lr1e-3", "| iwae32",
                                                     "| iwae16", "| dreg16", "| grow-14x14-2", "| grow-both",
                                                     "| grow-encoder", "| grow-encoder-dreg"]


def test_quality_smoke(data_dir):
    out = _run("benchmarks.quality", "--device", "cpu")
    assert "| mnist-z32 |" in out and "(published)" in out


def test_concepts_smoke(data_dir):
    out = _run("benchmarks.concepts")
    assert "make a digit (50 per class, variety 1):" in out and "direction thickness:" in out
    assert "recognition, all non-digits" in out and "AUROC" in out


def test_watch_smoke(data_dir):
    out = _run("benchmarks.watch")
    assert "watch a model learn: first frame median" in out and "8 frames" in out


def test_inference_gap_smoke(data_dir):
    out = _run("benchmarks.inference_gap")
    assert "| amortised, k = 10 |" in out and "| refined (3 steps), k = 10 |" in out and "amortisation gap" in out


def test_train_main_on_budget_smoke(data_dir, tmp_path):
    """The GPU session's one command: a probe, both phases fitted to the budget, the test figure."""
    out = subprocess.run([sys.executable, "scripts/train_main_on_budget.py", "--smoke", "--device", "cpu",
                          "--minutes", "0.2", "--out", str(tmp_path / "main")], cwd=ROOT, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "probe: " in out.stdout and "test NLL" in out.stdout
    metrics = json.loads((tmp_path / "main" / "metrics.json").read_text())
    assert "--samples 16 --dreg" in metrics["training"]["command"]
    assert "--decoder-blocks-14x14 2" in metrics["training"]["init_from_training"]["command"]
    assert metrics["test"]["command"].startswith("python -m vae_core.evaluate ")
    assert not (tmp_path / "main-probe").exists()


def test_shipping_scripts_halve_weights_and_keep_only_the_shipped_models_umaps(tmp_path):
    """scripts/halve_weights.py rewrites a served model in float16; scripts/ship_umaps.py then drops the UMAP of
    weights no longer shipped (here the float32 ones) and has none to make for a 2-D model."""
    import torch
    from safetensors import safe_open

    from vae_core import VAE, ModelConfig, save_checkpoint
    from vae_core.registry import file_digest

    save_checkpoint(tmp_path / "z2", VAE(ModelConfig(latent_dim=2, width=8)), {"beta": 1.0})
    old = tmp_path / ".umap" / f"umap-{file_digest(tmp_path / 'z2' / 'model.safetensors')}.npy"
    old.parent.mkdir()
    old.write_bytes(b"stale")
    out = subprocess.run([sys.executable, "scripts/halve_weights.py", str(tmp_path / "z2")], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert " bytes, largest change of a weight " in out.stdout
    with safe_open(str(tmp_path / "z2" / "model.safetensors"), framework="pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.float16}
    out = subprocess.run([sys.executable, "scripts/ship_umaps.py", str(tmp_path)], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "no shipped model has those weights" in out.stdout and not old.exists()
