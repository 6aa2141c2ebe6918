"""Training on several processes (torchrun, DistributedDataParallel over gloo), on the CPU: two ranks end
with the same weights, a step of 2 ranks x batch b is the step of one process with batch 2b (for the
ELBO under both reductions, and for the importance-weighted bound), and a distributed run resumes."""

import json
import os
import socket
import subprocess
import sys

import pytest
import torch
import torch.multiprocessing as mp

from conftest import ROOT
from vae_core import data, load_model
from vae_core.config import TrainConfig
from vae_core.model import VAE, ModelConfig
from vae_core.losses import elbo_terms, importance_weighted_terms
from vae_core.distributed import exit_past_group, leave
from vae_core.train import _native_set, train

B = 16


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _one_step(rank: int, world: int, port: int, data_dir: str, out: str, reduction: str, samples: int) -> None:
    os.environ.update(WORLD_SIZE=str(world), RANK=str(rank), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    torch.set_num_threads(1)
    cfg = TrainConfig(epochs=1, batch_size=B, train_limit=2 * B, val_size=0, binarize=False, lr_schedule="constant",
                      reduction=reduction, samples=samples, device="cpu")
    result = train(ModelConfig(latent_dim=2, width=8), cfg, data.load_mnist(data_dir, download=False))
    if rank == 0:
        torch.save({k: v.clone() for k, v in result.model.state_dict().items()}, out)  # a test's own scratch file
    leave(finished=True)  # both ranks done with the group before either leaves it
    exit_past_group(0)  # as vae_core.train does under torchrun


@pytest.mark.parametrize("reduction, samples", [("sum", 1), ("batch-sum", 1), ("sum", 4)])
def test_a_step_of_two_ranks_is_the_step_of_one_process_with_twice_the_batch(tmp_path, data_dir, reduction, samples):
    out = str(tmp_path / "ddp.pt")
    mp.spawn(_one_step, args=(2, _port(), data_dir, out, reduction, samples), nprocs=2, join=True)
    distributed = torch.load(out)
    # One process, one step on the whole global batch of 2B (each half with the noise draws its rank made:
    # both ranks start from the same seed), its loss over all 2B images as the reduction defines it.
    cfg = TrainConfig(epochs=1, batch_size=2 * B, train_limit=2 * B, val_size=0, binarize=False,
                      lr_schedule="constant", reduction=reduction, device="cpu")
    torch.manual_seed(cfg.seed)  # as train() seeds before it builds the model
    model = VAE(ModelConfig(latent_dim=2, width=8))
    start = {k: v.clone() for k, v in model.state_dict().items()}
    noise = torch.get_rng_state()
    x = _native_set(model, data.load_mnist(data_dir, download=False).train_images[:2 * B], torch.device("cpu"), False)
    order = torch.randperm(2 * B, generator=torch.Generator().manual_seed(cfg.seed))
    losses = []
    for half in (order[0::2], order[1::2]):
        torch.set_rng_state(noise)
        if samples > 1:  # the importance-weighted bound of 4 codes per image
            out_, mu, logvar, z = model.forward_samples_native(x[half], samples)
            losses.append(importance_weighted_terms(out_, x[half], mu, logvar, z, cfg.beta).loss)
        else:
            out_, mu, logvar = model.forward_native(x[half])
            losses.append(elbo_terms(out_, x[half], mu, logvar, model.likelihood, cfg.beta, reduction).loss)
    loss = (losses[0] + losses[1]) / (2 if reduction == "sum" else 1)  # a mean over 2B, or a sum over 2B
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    loss.backward()
    opt.step()
    moved = 0
    for name, w in model.state_dict().items():
        assert torch.allclose(distributed[name], w, atol=1e-6, rtol=1e-5), name
        moved += int(not torch.equal(w, start[name]))
    assert moved > 0  # the step did change the weights


def _torchrun(*args, data_dir):
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
                           f"--master_port={_port()}", "-m", "vae_core.train", "--data-dir", data_dir, *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_torchrun_trains_on_two_processes_with_identical_weights_and_resumes(tmp_path, data_dir):
    small = ["--latent-dim", "2", "--width", "8", "--train-limit", "400", "--batch-size", "50", "--val-size", "100",
             "--device", "cpu", "--quiet", "--out", str(tmp_path / "ddp")]
    run = _torchrun("--epochs", "2", *small, data_dir=data_dir)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "batch 50 per process x 2 processes" in run.stdout and "weights identical on all 2 ranks" in run.stdout
    assert run.stdout.count("epoch   2/2") == 1  # one process speaks for both
    training = json.loads((tmp_path / "ddp" / "metrics.json").read_text())["training"]
    assert training["processes"] == 2 and len(training["history"]) == 2
    assert load_model(tmp_path / "ddp").latent_dim == 2
    resumed = _torchrun("--resume", str(tmp_path / "ddp"), "--epochs", "3", *small, data_dir=data_dir)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "epoch   3/3" in resumed.stdout and "epoch   1/3" not in resumed.stdout
    assert len(json.loads((tmp_path / "ddp" / "metrics.json").read_text())["training"]["history"]) == 3
