"""The trainer and its CLI, run for real on a few hundred MNIST images."""

import json
import subprocess
import sys
import threading

import pytest
import torch

from vae_core import PRESETS, cli, load_model, train
from vae_core.config import replace
from vae_core.train import Progress, TrainingDiverged

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]
SMALL = ["--train-limit", "400", "--val-size", "200", "--batch-size", "50", "--device", "cpu", "--quiet"]


def _cli(*args, data_dir):
    return subprocess.run([sys.executable, "-m", "vae_core.train", "--data-dir", data_dir, *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_cli_trains_and_the_checkpoint_reloads(tmp_path, data_dir):
    out = tmp_path / "tiny"
    run = _cli("--preset", "default", "--latent-dim", "8", "--width", "8", "--epochs", "2", "--beta", "1",
               "--out", str(out), *SMALL, data_dir=data_dir)
    assert run.returncode == 0, run.stderr
    assert "epoch   2/2" in run.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    history = metrics["training"]["history"]
    assert len(history) == 2 and history[1]["loss"] < history[0]["loss"]  # the loss falls
    assert history[1]["val"]["neg_elbo"] < history[0]["val"]["neg_elbo"]
    assert metrics["training"]["command"].startswith("python -m vae_core.train --data-dir")
    assert "--preset default --latent-dim 8" in metrics["training"]["command"]
    config = json.loads((out / "config.json").read_text())
    assert (config["latent_dim"], config["beta"], config["likelihood"]) == (8, 1.0, "bernoulli")
    model = load_model(out)
    assert model.latent_dim == 8 and not model.training
    resumed = _cli("--resume", str(out), "--epochs", "3", "--out", str(out), *SMALL, data_dir=data_dir)
    assert resumed.returncode == 0, resumed.stderr
    training = json.loads((out / "metrics.json").read_text())["training"]
    assert len(training["history"]) == 3 and training["commands"][0] == metrics["training"]["command"]
    assert len(training["commands"]) == 2 and "--resume" in training["commands"][1]  # the first is kept


def _small(preset="default", **changes):
    p = PRESETS[preset]
    cfg = replace(p.train, **{"train_limit": 300, "val_size": 100, "batch_size": 50, "device": "cpu", **changes})
    return replace(p.model, latent_dim=4, width=8) if preset == "default" else p.model, cfg


def test_saved_checkpoint_reproduces_the_trained_model_exactly(tmp_path, mnist):
    model_cfg, cfg = _small(epochs=1)
    result = train.train(model_cfg, cfg, mnist, out=tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    x = mnist.test_images[:16].unsqueeze(1).float() / 255
    assert torch.equal(result.model.encode(x)[0], loaded.encode(x)[0])
    z = torch.randn(3, 4)
    assert torch.equal(result.model.decode(z), loaded.decode(z))


def test_training_is_reproducible_on_cpu_given_a_seed(mnist):
    model_cfg, cfg = _small(epochs=1, seed=7)
    a = train.train(model_cfg, cfg, mnist).model.state_dict()
    b = train.train(model_cfg, cfg, mnist).model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_continues_the_same_run(tmp_path, mnist):
    model_cfg, cfg = _small(epochs=2, seed=3)
    straight = train.train(model_cfg, cfg, mnist).model.state_dict()
    cancel = threading.Event()

    def stop_in_epoch_two(p: Progress):
        if p.kind == "step" and p.epoch == 2:
            cancel.set()
    first = train.train(model_cfg, cfg, mnist, out=tmp_path / "r", callback=stop_in_epoch_two, cancel=cancel)
    assert first.cancelled and len(first.history) == 1
    resumed = train.train(model_cfg, cfg, mnist, resume=tmp_path / "r").model.state_dict()
    assert all(torch.allclose(straight[k], resumed[k], atol=1e-6) for k in straight)


def test_cancel_stops_between_steps_and_writes_nothing(tmp_path, mnist):
    model_cfg, cfg = _small(epochs=3)
    cancel, steps = threading.Event(), []

    def on_progress(p: Progress):
        steps.append(p.step)
        if p.step == 2:
            cancel.set()
    result = train.train(model_cfg, cfg, mnist, out=tmp_path / "c", callback=on_progress, cancel=cancel)
    assert result.cancelled and steps == [1, 2] and not (tmp_path / "c").exists()


def test_callback_reports_steps_and_epochs(mnist):
    model_cfg, cfg = _small(epochs=1)
    seen = []
    train.train(model_cfg, cfg, mnist, callback=seen.append)
    kinds = [p.kind for p in seen]
    assert kinds.count("epoch") == 1 and kinds.count("step") == 6
    assert seen[-1].images_per_second > 0 and seen[-1].val["neg_elbo"] > 0


def test_a_diverging_run_stops_and_keeps_the_last_good_checkpoint(tmp_path, data_dir, mnist):
    out = tmp_path / "good"
    model_cfg, cfg = _small(epochs=1)
    train.train(model_cfg, cfg, mnist, out=out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    run = _cli("--preset", "default", "--latent-dim", "4", "--width", "8", "--epochs", "1", "--lr", "1e9",
               "--out", str(out), *SMALL, data_dir=data_dir)
    assert run.returncode == 1
    assert "diverged at step" in run.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    with pytest.raises(TrainingDiverged, match="diverged at step"):
        train.train(model_cfg, replace(cfg, lr=1e9), mnist, out=out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_bf16_training_tracks_fp32(mnist):
    # The CUDA path trains under bf16 autocast; CPU autocast runs the same arithmetic, so it is checked here.
    model_cfg, cfg = _small(epochs=1, train_limit=512, batch_size=64)
    fp32 = train.train(model_cfg, replace(cfg, precision="fp32"), mnist).history[0]
    bf16 = train.train(model_cfg, replace(cfg, precision="bf16"), mnist).history[0]
    assert bf16["loss"] != fp32["loss"]  # the bf16 path did run
    assert bf16["loss"] == pytest.approx(fp32["loss"], rel=0.03)
    assert bf16["kl"] == pytest.approx(fp32["kl"], rel=0.2)


def test_seed_presets_train_with_their_own_loss_conventions(mnist):
    # The reported reconstruction and KL are per image, summed; the loss keeps each recipe's reduction.
    model_cfg, cfg = _small("seed-conv", epochs=1, train_limit=128, batch_size=64)
    h = train.train(model_cfg, cfg, mnist).history[0]
    # Recipe A: mse averaged over the 32x32 pixels + 0.1 * KL averaged over the 128 latent dimensions.
    assert h["loss"] == pytest.approx(h["reconstruction"] / 1024 + 0.1 * h["kl"] / 128, rel=1e-3)
    model_cfg, cfg = _small("seed-mlp", epochs=1, train_limit=128, batch_size=64)
    h = train.train(model_cfg, cfg, mnist).history[0]
    # Recipe B: BCE + KL summed over the whole batch of 64.
    assert h["loss"] == pytest.approx(64 * (h["reconstruction"] + h["kl"]), rel=1e-3)


def test_cli_refuses_bad_values_with_a_message(tmp_path, data_dir):
    run = _cli("--epochs", "0", "--out", str(tmp_path / "x"), data_dir=data_dir)
    assert run.returncode == 2 and "epochs must be at least 1" in run.stderr
    run = _cli("--latent-dim", "500", "--out", str(tmp_path / "x"), data_dir=data_dir)
    assert run.returncode == 2 and "latent_dim" in run.stderr
    run = _cli("--preset", "seed-conv", "--reduction", "sum", "--samples", "4", "--out", str(tmp_path / "x"),
               data_dir=data_dir)
    assert run.returncode == 2 and "needs a Bernoulli decoder" in run.stderr
    run = _cli("--samples", "4", "--reduction", "mean", "--out", str(tmp_path / "x"), data_dir=data_dir)
    assert run.returncode == 2 and "needs reduction sum" in run.stderr
    run = _cli("--dreg", "--out", str(tmp_path / "x"), data_dir=data_dir)
    assert run.returncode == 2 and "dreg is an estimator of the importance-weighted bound's gradient" in run.stderr
    assert not (tmp_path / "x").exists()


def test_cli_grows_a_trained_model_by_residual_blocks_and_refuses_any_other_change(tmp_path, data_dir):
    tiny = ["--latent-dim", "8", "--width", "8", "--epochs", "1", *SMALL]
    assert _cli(*tiny, "--out", str(tmp_path / "small"), data_dir=data_dir).returncode == 0
    run = _cli(*tiny, "--encoder-blocks", "1", "--decoder-blocks-14x14", "1", "--init-from", str(tmp_path / "small"),
               "--out", str(tmp_path / "grown"), data_dir=data_dir)
    assert run.returncode == 0, run.stderr
    config = json.loads((tmp_path / "grown" / "config.json").read_text())["model"]
    assert (config["encoder_blocks"], config["decoder_blocks_7x7"], config["decoder_blocks_14x14"]) == (1, 1, 1)
    assert load_model(tmp_path / "grown").num_parameters() > load_model(tmp_path / "small").num_parameters()
    # metrics.json keeps the run it grew from: every phase's command and time
    training = json.loads((tmp_path / "grown" / "metrics.json").read_text())["training"]
    small = json.loads((tmp_path / "small" / "metrics.json").read_text())["training"]
    assert training["init_from_training"] == small and "--encoder-blocks 1" in training["command"]
    run = _cli("--resume", str(tmp_path / "grown"), "--epochs", "2", "--out", str(tmp_path / "grown"), *SMALL,
               data_dir=data_dir)
    assert run.returncode == 0, run.stderr
    training = json.loads((tmp_path / "grown" / "metrics.json").read_text())["training"]
    assert training["init_from_training"] == small and len(training["history"]) == 2
    run = _cli(*tiny[:2], "--width", "16", *tiny[4:], "--init-from", str(tmp_path / "small"),
               "--out", str(tmp_path / "wider"), data_dir=data_dir)
    assert run.returncode == 1 and "only added residual blocks can start from a smaller model" in run.stderr
    assert "Traceback" not in run.stderr and not (tmp_path / "wider").exists()


def test_cli_flags_come_from_the_dataclass_fields(capsys):
    from dataclasses import dataclass, field

    from vae_core.config import add_dataclass_flags

    @dataclass
    class Settings:
        name: str | None = field(default=None, metadata={"help": "an optional name"})
        steps: int = field(default=3, metadata={"help": "how many steps"})
        fast: bool = field(default=False, metadata={"help": "go fast"})

    parser = __import__("argparse").ArgumentParser()
    add_dataclass_flags(parser, Settings)
    args = parser.parse_args(["--name", "x", "--steps", "5", "--fast"])
    assert (args.name, args.steps, args.fast) == ("x", 5, True)
    assert parser.parse_args([]).steps is None  # a flag not given leaves the preset's value alone
    parser.print_help()
    text = capsys.readouterr().out
    assert "an optional name" in text and "how many steps (default: 3" in text and "go fast" in text
    assert "Adam's learning rate at the start" in cli.build_parser().format_help()


def test_the_cli_trains_on_fashion_mnist_and_on_a_folder_of_images_and_records_which(tmp_path, data_dir):
    import os

    from conftest import picture_folder
    from vae_core import hub

    fashion_dir = os.environ.get("VAE_FASHION_DIR")
    if not fashion_dir and not os.environ.get("CI"):
        pytest.skip("Fashion-MNIST not found: set VAE_FASHION_DIR")
    tiny = ["--latent-dim", "2", "--width", "8", "--epochs", "1", "--val-size", "0", "--device", "cpu", "--quiet"]
    run = subprocess.run([sys.executable, "-m", "vae_core.train", "--dataset", "fashion-mnist", "--train-limit", "300",
                          "--batch-size", "50", "--out", str(tmp_path / "fashion"), *tiny],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    config = json.loads((tmp_path / "fashion" / "config.json").read_text())
    assert config["dataset"] == "fashion-mnist" and config["classes"][9] == "Ankle boot"
    assert "on fashion-mnist (60,000 images)" in run.stdout
    folder = picture_folder(tmp_path / "shapes")
    run = subprocess.run([sys.executable, "-m", "vae_core.train", "--dataset", str(folder), "--batch-size", "8",
                          "--out", str(tmp_path / "mine"), *tiny], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    config = json.loads((tmp_path / "mine" / "config.json").read_text())
    assert config["dataset"] == str(folder.resolve()) and config["classes"] == ["bar", "circle"]
    assert load_model(tmp_path / "mine").latent_dim == 2
    # Evaluated on its own test split by default, and its card says what it learnt from.
    ev = subprocess.run([sys.executable, "-m", "vae_core.evaluate", str(tmp_path / "mine"), "--k", "5", "--device", "cpu"],
                        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert ev.returncode == 0, ev.stderr
    test = json.loads((tmp_path / "mine" / "metrics.json").read_text())["test"]
    assert test["images"] == 3 and test["test_set"].startswith(f"{folder.resolve()} (its test split)")
    assert f"trained on {folder.resolve()}" in hub.model_card(tmp_path / "mine")
    bad = subprocess.run([sys.executable, "-m", "vae_core.train", "--dataset", "cifar", "--out", str(tmp_path / "x"), *tiny],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "unknown dataset 'cifar'" in bad.stderr


def test_the_readmes_command_trains_on_a_small_folder_and_says_when_a_folder_is_too_small(tmp_path):
    """A folder of a few hundred pictures held out 5,000 by default and failed after a minute with a
    traceback; now its held-out part is sized from the folder, and what cannot train is a sentence."""
    from conftest import picture_folder

    folder = picture_folder(tmp_path / "pictures", ("circle", "bar", "square"), each=100)  # 300 pictures
    readme = ["-m", "vae_core.train", "--dataset", str(folder), "--latent-dim", "2", "--epochs", "1",
              "--width", "8", "--device", "cpu", "--quiet"]
    run = subprocess.run([sys.executable, *readme, "--out", str(tmp_path / "mine")], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert json.loads((tmp_path / "mine" / "config.json").read_text())["train"]["val_size"] == 25  # a tenth of 255
    too_many = subprocess.run([sys.executable, *readme, "--val-size", "300", "--out", str(tmp_path / "no")],
                              cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert too_many.returncode == 2 and "Traceback" not in too_many.stderr
    assert "--val-size 300 leaves 0 of the 255 training images to train on" in too_many.stderr
    tiny = picture_folder(tmp_path / "tiny", ("circle",), each=6)
    refused = subprocess.run([sys.executable, *readme[:3], str(tiny), *readme[4:], "--out", str(tmp_path / "no")],
                             cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2 and "a model needs at least 10" in refused.stderr and not (tmp_path / "no").exists()
