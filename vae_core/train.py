"""The training loop. It knows nothing of the model's internals or of any user interface (its command
line is cli.py, its distributed plumbing distributed.py).

It asks the model for `forward_native` and `preprocess`, computes the loss with losses.elbo_terms (or,
with `samples` > 1, the importance-weighted bound of losses.importance_weighted_terms),
and reports through a callback: the CLI turns that into a tqdm bar and a line per epoch, the app
into a progress bar and a live loss plot. It stops between steps when `cancel` is set, and stops with
TrainingDiverged, naming the step, when the loss is not finite; checkpoints are written only after a
good epoch, atomically, so the last good one is never touched by a failing run.

    python -m vae_core.train --preset default --latent-dim 16 --beta 1 --epochs 30 --out checkpoints/NAME
    torchrun --nproc_per_node=2 -m vae_core.train ... --out checkpoints/NAME   # several processes or machines

Under torchrun (WORLD_SIZE > 1) it trains with DistributedDataParallel, gloo on CPU and NCCL on CUDA:
every step takes one global batch of batch_size x world images from a shuffled order that all ranks
share, each rank its own slice of it (and its own binarisation stream); gradients are averaged, so a
step of N ranks with batch b is the step of one process with batch N x b. The epoch's figures are
averaged over ranks, only rank 0 reports, evaluates and writes checkpoints, and at the end the ranks
check that their weights are identical.
"""

from __future__ import annotations

import dataclasses
import math
import os
import platform
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from . import checkpoints, data, distributed
from .config import TrainConfig, equivalent_beta
from .losses import elbo_terms, importance_weighted_terms, kl_warmup
from .model import VAE, ModelConfig

CHECK_EVERY = 50  # steps between looks at the loss on an accelerator (each look waits for the device)


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the message names the step."""


@dataclass
class Progress:
    """What the callback receives, after every step ("step") and after every epoch ("epoch")."""

    kind: str  # "step" or "epoch"
    epoch: int  # 1-based
    epochs: int
    step: int  # global step, 1-based
    steps_per_epoch: int
    loss: float  # step: the latest loss; epoch: the epoch's mean
    reconstruction: float
    kl: float
    images_per_second: float
    lr: float
    val: dict | None = None  # epoch only: validation figures (elbo, reconstruction, kl)
    model: VAE | None = None  # the model being trained, to evaluate or snapshot (training resumes after)
    images_seen: int = 0  # training images the run has stepped over, on all ranks, since its first epoch


@dataclass
class TrainResult:
    model: VAE
    history: list[dict]  # one entry per finished epoch
    cancelled: bool
    path: Path | None
    seconds: float
    device: str


def pick_device(name: str = "auto") -> torch.device:
    """CUDA, then Apple MPS, then CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda was asked for, but PyTorch sees no CUDA GPU")
    return torch.device(name)


def lr_at(cfg: TrainConfig, step: int, total: int) -> float:
    if cfg.lr_schedule == "constant":
        return cfg.lr
    # Cosine decay to lr/100: the last epochs settle the model instead of jittering around it.
    return cfg.lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(step, total) / total)))


@torch.no_grad()
def validation_figures(model: VAE, x_native: torch.Tensor, cfg: TrainConfig, batch_size: int = 1000) -> dict:
    """Negative ELBO and its parts on a fixed set, per image (in nats for Bernoulli models)."""
    model.eval()
    rec = kl = 0.0
    # The same eps every epoch, so the figures move only with the model; fork_rng leaves the
    # training's random streams (CPU and CUDA) exactly where they were.
    devices = [x_native.device.index or 0] if x_native.is_cuda else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(0)
        for start in range(0, len(x_native), batch_size):
            xb = x_native[start:start + batch_size]
            out, mu, logvar = model.forward_native(xb)
            terms = elbo_terms(out, xb, mu, logvar, model.likelihood, 1.0, "sum")
            rec += terms.reconstruction.item() * len(xb)
            kl += terms.kl.item() * len(xb)
    model.train()
    n = max(1, len(x_native))
    return {"neg_elbo": (rec + kl) / n, "reconstruction": rec / n, "kl": kl / n}


def _native_set(model: VAE, images: torch.Tensor, device: torch.device, binarize_fixed: bool) -> torch.Tensor:
    """Whole-split tensor in the network's input space, on the device, converted once in chunks."""
    x = data.binarized_test_set(images) if binarize_fixed else data.to_float(images)
    x = x.to(device)
    if len(x) == 0:
        return x
    return torch.cat([model.preprocess(x[i:i + 4096]) for i in range(0, len(x), 4096)])


def _start(model_cfg: ModelConfig, cfg: TrainConfig, device: torch.device, init_from, resume, channels_last: bool):
    """The model, its optimizer and the random streams, fresh, warm-started (from a checkpoint folder or a
    model in memory) or where a saved run stopped."""
    torch.manual_seed(cfg.seed)
    shuffle_gen = torch.Generator().manual_seed(cfg.seed)
    start_epoch = 0
    if resume is not None:
        saved = checkpoints.read_config(resume)
        model_cfg = saved["model_config"]
        start_epoch = int(saved.get("progress", {}).get("epoch", 0))
    model = VAE(model_cfg)
    source = resume or init_from
    if source is not None:
        model.load_from(source if isinstance(source, VAE) else checkpoints.load_model(source))
    model.to(device).train()
    if channels_last:
        model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    gens = {"shuffle": shuffle_gen, "binarize": torch.Generator(device=device).manual_seed(cfg.seed + 1)}
    if resume is not None and (Path(resume) / checkpoints.STATE).exists():
        checkpoints.restore_training_state(opt, gens, checkpoints.load_training_state(resume), device)
    return model, opt, gens, start_epoch


@dataclass
class _Run:
    """What a run's epochs share: the model and its optimizer, where and how it steps, its data."""

    model: VAE
    opt: torch.optim.Optimizer
    gens: dict[str, torch.Generator]
    step_fn: Callable
    cfg: TrainConfig
    rank: int
    world: int
    device: torch.device
    bf16: bool
    x_train: torch.Tensor
    x_val: torch.Tensor

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(len(self.x_train) / (self.cfg.batch_size * self.world))


def train(model_cfg: ModelConfig, cfg: TrainConfig, mnist: data.MNIST, *, out: str | Path | None = None,
          callback: Callable[[Progress], None] | None = None, cancel: threading.Event | None = None,
          init_from: str | Path | VAE | None = None, resume: str | Path | None = None,
          run_info: dict | None = None) -> TrainResult:
    """Train a VAE. `init_from` warm-starts from a checkpoint's weights; `resume` continues its run."""
    run, start_epoch = _prepare(model_cfg, cfg, mnist, init_from, resume)
    callback = callback if run.rank == 0 else None
    n, steps_per_epoch = len(run.x_train), run.steps_per_epoch
    step = start_epoch * steps_per_epoch
    history: list[dict] = list((run_info or {}).get("history", []))
    t_run = time.perf_counter()
    path = Path(out) if out is not None else None
    cancelled = False
    for epoch in range(start_epoch, cfg.epochs):
        t_epoch = time.perf_counter()
        sums, step, cancelled = _epoch(run, epoch, step, callback, cancel, t_epoch)
        if cancelled:
            break
        seconds = time.perf_counter() - t_epoch
        mean = distributed.all_mean(sums / steps_per_epoch, run.world).tolist()
        val = validation_figures(run.model, run.x_val, cfg) if len(run.x_val) and run.rank == 0 else None
        history.append({"epoch": epoch + 1, "loss": mean[0], "reconstruction": mean[1], "kl": mean[2],
                        "val": val, "seconds": seconds, "images_per_second": n / seconds})
        if callback is not None:
            callback(Progress(kind="epoch", epoch=epoch + 1, epochs=cfg.epochs, step=step,
                              steps_per_epoch=steps_per_epoch, loss=mean[0], reconstruction=mean[1], kl=mean[2],
                              images_per_second=n / seconds, lr=lr_at(cfg, step, steps_per_epoch * cfg.epochs),
                              val=val, model=run.model, images_seen=(epoch + 1) * n))
            run.model.train()
        if path is not None and run.rank == 0:
            _save(path, run.model, cfg, epoch + 1, history, run.opt, run.gens, run.device, run_info,
                  time.perf_counter() - t_run)
    if run.world > 1:
        digest = distributed.check_replicas(run.model, run.world)
        if run.rank == 0:
            print(f"weights identical on all {run.world} ranks (sha256 {digest})", flush=True)
    run.model.eval()
    return TrainResult(run.model, history, cancelled, path, time.perf_counter() - t_run, str(run.device))


def _prepare(model_cfg: ModelConfig, cfg: TrainConfig, mnist: data.MNIST, init_from, resume) -> tuple[_Run, int]:
    """The run, ready for its first epoch (or where a resumed one stopped), and that epoch."""
    cfg.validate()
    rank, world = distributed.join()
    device = pick_device(cfg.device)
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    cuda = device.type == "cuda"
    # The network's matmuls and convolutions in bf16 on CUDA; the losses are always summed in fp32.
    bf16 = cfg.precision == "bf16" or (cfg.precision == "auto" and cuda)
    # cuDNN's and, in bf16, oneDNN's fastest convolutions want channels last (on this CPU in bf16 11% more
    # images a second at batch 128; in fp32 none).
    model, opt, gens, start_epoch = _start(model_cfg, cfg, device, init_from, resume, channels_last=cuda or bf16)
    cfg.validate_for(model.cfg)
    if world > 1:
        # Each rank its own binarisation stream (on resume too: only rank 0's was saved).
        gens["binarize"].manual_seed(cfg.seed + 1 + rank + 1000 * start_epoch)
        step_fn = torch.nn.parallel.DistributedDataParallel(distributed.Native(model, cfg.samples))
    else:
        step_fn = distributed.Native(model, cfg.samples)
        step_fn = torch.compile(step_fn) if (cfg.compile and cuda) else step_fn
    (train_x, _), (val_x, _) = data.split_train_val(mnist.train_images, mnist.train_labels, cfg.val_size)
    if cfg.train_limit:
        train_x = train_x[:cfg.train_limit]
    x_train = _native_set(model, train_x, device, binarize_fixed=False)
    x_val = _native_set(model, val_x, device, binarize_fixed=model.likelihood == "bernoulli")
    if len(x_train) < world:
        raise ValueError(f"{len(x_train)} training images cannot be shared between {world} processes")
    return _Run(model, opt, gens, step_fn, cfg, rank, world, device, bf16, x_train, x_val), start_epoch


def _epoch(run: _Run, epoch: int, step: int, callback, cancel, t_epoch: float) -> tuple[torch.Tensor, int, bool]:
    """One pass over the training images: (the steps' loss, reconstruction and kl summed, the last step,
    whether it was cancelled)."""
    cfg, n, world, cuda = run.cfg, len(run.x_train), run.world, run.device.type == "cuda"
    steps_per_epoch = run.steps_per_epoch
    sums = torch.zeros(3, device=run.device)
    pending: list[tuple[int, torch.Tensor]] = []
    for i, idx in enumerate(data.batches(n, cfg.batch_size * world, run.gens["shuffle"], run.device)):
        if cancel is not None and cancel.is_set():
            return sums, step, True
        if len(idx) < world:  # too few left to give every rank one: the epoch ends here
            break
        idx = idx[run.rank::world]  # this rank's slice of the global batch
        step += 1
        lr = lr_at(cfg, step, steps_per_epoch * cfg.epochs)
        beta = kl_warmup(cfg.beta, epoch + i / steps_per_epoch, cfg.kl_warmup_epochs)
        xb = run.x_train[idx]
        if cfg.binarize:
            xb = torch.bernoulli(xb, generator=run.gens["binarize"])
        piece = _step(run.model, run.step_fn, run.opt, xb, cfg, lr, beta, run.bf16, world)
        sums += piece
        pending.append((step, piece[0]))
        # On CPU reading the loss is free; on an accelerator it waits, so look every CHECK_EVERY steps.
        if not cuda or len(pending) >= CHECK_EVERY or i == steps_per_epoch - 1:
            _check_finite(pending)
            pending = []
            if callback is not None:
                seen = (i + 1) * cfg.batch_size
                loss, reconstruction, kl = piece.tolist()
                callback(Progress(kind="step", epoch=epoch + 1, epochs=cfg.epochs, step=step,
                                  steps_per_epoch=steps_per_epoch, loss=loss, reconstruction=reconstruction, kl=kl,
                                  images_per_second=seen / (time.perf_counter() - t_epoch), lr=lr, model=run.model,
                                  images_seen=epoch * n + min(seen * world, n)))
    _check_finite(pending)
    return sums, step, False


def _step(model: VAE, step_fn, opt: torch.optim.Optimizer, xb: torch.Tensor, cfg: TrainConfig, lr: float,
          beta: float, bf16: bool, world: int = 1) -> torch.Tensor:
    """One optimiser step on a batch; returns (loss, reconstruction, kl) as one detached tensor. Across
    `world` processes the gradients are averaged; a loss summed over the batch is scaled to match."""
    for group in opt.param_groups:
        group["lr"] = lr
    if xb.is_cuda or bf16:
        xb = xb.contiguous(memory_format=torch.channels_last)
    with torch.autocast(xb.device.type, dtype=torch.bfloat16, enabled=bf16):
        out, mu, logvar, *z = step_fn(xb)
    if z:  # k codes per image: the importance-weighted bound
        terms = importance_weighted_terms(out, xb, mu, logvar, z[0], beta, dreg=cfg.dreg)
    else:
        terms = elbo_terms(out, xb, mu, logvar, model.likelihood, beta, cfg.reduction)
    opt.zero_grad(set_to_none=True)
    loss = terms.loss * world if world > 1 and cfg.reduction == "batch-sum" else terms.loss
    loss.backward()
    if cfg.grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
    opt.step()
    return torch.stack([terms.loss.detach(), terms.reconstruction.detach(), terms.kl.detach()])


def _check_finite(pending: list[tuple[int, torch.Tensor]]) -> None:
    if not pending:
        return
    losses = torch.stack([loss for _, loss in pending])
    bad = (~torch.isfinite(losses)).nonzero()
    if len(bad):
        index = int(bad[0, 0])
        raise TrainingDiverged(
            f"training diverged at step {pending[index][0]}: the loss became {float(losses[index])}. "
            "No checkpoint was written for this epoch; try a smaller --lr or --grad-clip.")


def _save(path: Path, model: VAE, cfg: TrainConfig, epoch: int, history: list[dict],
          opt: torch.optim.Optimizer, gens: dict[str, torch.Generator], device: torch.device,
          run_info: dict | None, seconds: float) -> None:
    info = dict(run_info or {})
    pixels = 1024 if model.cfg.arch == "seed-conv" else 784
    config = {"beta": cfg.beta, "beta_per_image_sum": equivalent_beta(cfg.beta, cfg.reduction, pixels, model.latent_dim),
              "train": dataclasses.asdict(cfg), "preset": info.get("preset"),
              "progress": {"epoch": epoch, "epochs": cfg.epochs}, "init_from": info.get("init_from"),
              "dataset": info.get("dataset", "mnist"), "classes": info.get("classes", list(data.DIGITS))}
    metrics = {"training": {"device": str(device), "device_name": _device_name(device),
                            "seconds": round(info.get("seconds_before", 0.0) + seconds, 2),
                            "epochs": epoch, "command": info.get("command"),
                            "processes": distributed.world_size(),
                            "commands": [*info.get("commands_before", []), info.get("command")],
                            "torch": torch.__version__,
                            "history": history}}
    if info.get("init_from_training"):
        metrics["training"]["init_from_training"] = info["init_from_training"]
    state = checkpoints.training_state(opt, gens) if info.get("save_optimizer", True) else None
    checkpoints.save_checkpoint(path, model, config, metrics, state)


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    name = platform.processor() or platform.machine()
    try:  # Linux says more in /proc/cpuinfo than platform does
        with open("/proc/cpuinfo") as f:
            name = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), name)
    except OSError:
        pass
    return f"{name} CPU, {os.cpu_count()} cores, {torch.get_num_threads()} threads"


if __name__ == "__main__":  # the command line is cli.py's; `python -m vae_core.train` stays its name
    from .cli import run

    run()
