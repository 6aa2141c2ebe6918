"""The training loop. It knows nothing of the model's internals or of any user interface.

It asks the model for `forward_native` and `preprocess`, computes the loss with losses.elbo_terms (or,
with `samples` > 1, the importance-weighted bound of losses.importance_weighted_terms),
and reports through a callback: the CLI below turns that into a tqdm bar and a line per epoch, the app
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

import argparse
import dataclasses
import math
import os
import platform
import shlex
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from . import checkpoints, data
from .config import PRESETS, TrainConfig, add_dataclass_flags, equivalent_beta, replace
from .losses import elbo_terms, importance_weighted_terms, kl_warmup
from .model import VAE, ModelConfig

CHECK_EVERY = 50  # steps between looks at the loss on an accelerator (each look waits for the device)


def _distributed() -> tuple[int, int]:
    """(rank, world size): under torchrun, after joining its process group; (0, 1) in a plain run."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), world


class _Native(torch.nn.Module):
    """The model's training forward as a module's forward, which is what DistributedDataParallel wraps."""

    def __init__(self, model: VAE, samples: int = 1):
        super().__init__()
        self.model, self.samples = model, samples

    def forward(self, x):
        if self.samples > 1:
            return self.model.forward_samples_native(x, self.samples)
        return self.model.forward_native(x)


def _leave_group(finished: bool) -> None:
    """Leave torchrun's process group, if this process joined one. After a finished run every rank first
    waits for the others: gloo aborts a rank whose peer has left while it is still finishing a collective."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        if finished:
            dist.barrier()
        dist.destroy_process_group()


def _exit_past_group(code: int) -> None:
    """End a process that trained in a process group without the interpreter's shutdown. DistributedDataParallel
    keeps the group, and so its worker threads, alive past destroy_process_group (torch 2.14), and a worker may
    still be releasing the last collective's tensors, which takes the GIL: during shutdown that aborts the process
    ('terminate called without an active exception'; once in 30 to 100 runs on a 2-core CPU, with everything
    already written). Nothing is left to do at exit but to flush what was printed."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _all_mean(t: torch.Tensor, world: int) -> torch.Tensor:
    if world > 1:
        import torch.distributed as dist

        dist.all_reduce(t)
        t /= world
    return t


def _check_replicas(model: VAE, world: int) -> str:
    """A digest of the weights, checked identical on every rank (they must be, after averaged steps)."""
    import hashlib

    digest = hashlib.sha256(b"".join(v.detach().cpu().contiguous().numpy().tobytes()
                                     for v in model.state_dict().values())).hexdigest()[:16]
    if world > 1:
        import torch.distributed as dist

        digests: list = [None] * world
        dist.all_gather_object(digests, digest)
        if len(set(digests)) != 1:
            raise RuntimeError(f"the ranks' weights differ after training: {digests}")
    return digest


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


def _optimizer_state(opt: torch.optim.Optimizer, gens: dict[str, torch.Generator]) -> dict[str, torch.Tensor]:
    tensors = {"rng.torch": torch.get_rng_state()}
    tensors.update({f"rng.{name}": g.get_state() for name, g in gens.items()})
    for index, state in opt.state_dict()["state"].items():
        for key, value in state.items():
            tensors[f"optim.{index}.{key}"] = torch.as_tensor(value)
    return tensors


def _restore_optimizer(opt: torch.optim.Optimizer, gens: dict[str, torch.Generator],
                       tensors: dict[str, torch.Tensor], device: torch.device) -> None:
    sd = opt.state_dict()
    state: dict[int, dict] = {}
    for name, value in tensors.items():
        if name.startswith("optim."):
            _, index, key = name.split(".", 2)
            state.setdefault(int(index), {})[key] = value if key == "step" else value.to(device)
    sd["state"] = state
    opt.load_state_dict(sd)
    torch.set_rng_state(tensors["rng.torch"])
    for name, g in gens.items():
        g.set_state(tensors[f"rng.{name}"])


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
        _restore_optimizer(opt, gens, checkpoints.load_training_state(resume), device)
    return model, opt, gens, start_epoch


def train(model_cfg: ModelConfig, cfg: TrainConfig, mnist: data.MNIST, *, out: str | Path | None = None,
          callback: Callable[[Progress], None] | None = None, cancel: threading.Event | None = None,
          init_from: str | Path | VAE | None = None, resume: str | Path | None = None,
          run_info: dict | None = None) -> TrainResult:
    """Train a VAE. `init_from` warm-starts from a checkpoint's weights; `resume` continues its run."""
    cfg.validate()
    rank, world = _distributed()
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
    shuffle_gen, bin_gen = gens["shuffle"], gens["binarize"]
    if world > 1:
        # Each rank its own binarisation stream (on resume too: only rank 0's was saved).
        bin_gen.manual_seed(cfg.seed + 1 + rank + 1000 * start_epoch)
        step_fn = torch.nn.parallel.DistributedDataParallel(_Native(model, cfg.samples))
        callback = callback if rank == 0 else None
    else:
        step_fn = _Native(model, cfg.samples)
        step_fn = torch.compile(step_fn) if (cfg.compile and cuda) else step_fn

    (train_x, _), (val_x, _) = data.split_train_val(mnist.train_images, mnist.train_labels, cfg.val_size)
    if cfg.train_limit:
        train_x = train_x[:cfg.train_limit]
    x_train = _native_set(model, train_x, device, binarize_fixed=False)
    x_val = _native_set(model, val_x, device, binarize_fixed=model.likelihood == "bernoulli")
    n = len(x_train)
    if n < world:
        raise ValueError(f"{n} training images cannot be shared between {world} processes")
    steps_per_epoch = math.ceil(n / (cfg.batch_size * world))
    total_steps = steps_per_epoch * cfg.epochs
    step = start_epoch * steps_per_epoch
    history: list[dict] = list((run_info or {}).get("history", []))
    t_run = time.perf_counter()
    path = Path(out) if out is not None else None
    cancelled = False

    for epoch in range(start_epoch, cfg.epochs):
        t_epoch = time.perf_counter()
        sums = torch.zeros(3, device=device)  # loss, reconstruction, kl, summed over steps
        pending: list[tuple[int, torch.Tensor]] = []
        for i, idx in enumerate(data.batches(n, cfg.batch_size * world, shuffle_gen, device)):
            if cancel is not None and cancel.is_set():
                cancelled = True
                break
            if len(idx) < world:  # too few left to give every rank one: the epoch ends here
                break
            idx = idx[rank::world]  # this rank's slice of the global batch
            step += 1
            lr = lr_at(cfg, step, total_steps)
            beta = kl_warmup(cfg.beta, epoch + i / steps_per_epoch, cfg.kl_warmup_epochs)
            xb = x_train[idx]
            if cfg.binarize:
                xb = torch.bernoulli(xb, generator=bin_gen)
            piece = _step(model, step_fn, opt, xb, cfg, lr, beta, bf16, world)
            sums += piece
            pending.append((step, piece[0]))
            # On CPU reading the loss is free; on an accelerator it waits, so look every CHECK_EVERY steps.
            if not cuda or len(pending) >= CHECK_EVERY or i == steps_per_epoch - 1:
                _check_finite(pending)
                pending = []
                if callback is not None:
                    seen = (i + 1) * cfg.batch_size
                    callback(Progress("step", epoch + 1, cfg.epochs, step, steps_per_epoch,
                                      *piece.tolist(), seen / (time.perf_counter() - t_epoch), lr, model=model,
                                      images_seen=epoch * n + min(seen * world, n)))
        if cancelled:
            break
        _check_finite(pending)
        seconds = time.perf_counter() - t_epoch
        mean = _all_mean(sums / steps_per_epoch, world).tolist()
        val = validation_figures(model, x_val, cfg) if len(x_val) and rank == 0 else None
        record = {"epoch": epoch + 1, "loss": mean[0], "reconstruction": mean[1], "kl": mean[2],
                  "val": val, "seconds": seconds, "images_per_second": n / seconds}
        history.append(record)
        if callback is not None:
            callback(Progress("epoch", epoch + 1, cfg.epochs, step, steps_per_epoch, *mean,
                              n / seconds, lr_at(cfg, step, total_steps), val, model, (epoch + 1) * n))
            model.train()
        if path is not None and rank == 0:
            _save(path, model, cfg, epoch + 1, history, opt, gens, device, run_info,
                  time.perf_counter() - t_run)
    if world > 1:
        digest = _check_replicas(model, world)
        if rank == 0:
            print(f"weights identical on all {world} ranks (sha256 {digest})", flush=True)
    model.eval()
    return TrainResult(model, history, cancelled, path, time.perf_counter() - t_run, str(device))


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
                            "processes": int(os.environ.get("WORLD_SIZE", "1")),
                            "commands": [*info.get("commands_before", []), info.get("command")],
                            "torch": torch.__version__,
                            "history": history}}
    if info.get("init_from_training"):
        metrics["training"]["init_from_training"] = info["init_from_training"]
    state = _optimizer_state(opt, gens) if info.get("save_optimizer", True) else None
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


# ----------------------------------------------------------------------------- command line


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m vae_core.train",
                                     description="Train a VAE on MNIST, Fashion-MNIST or a folder of images.")
    parser.add_argument("--preset", default="default", choices=sorted(PRESETS), help="the recipe to start from: "
                        + "; ".join(f"{name}: {p.description.rstrip('.')}" for name, p in PRESETS.items()))
    parser.add_argument("--out", required=True, help="checkpoint folder to write (replaced atomically)")
    parser.add_argument("--dataset", default=None, help="mnist (default), fashion-mnist, or a folder of images "
                        "(classes from its sub-folders' names); with --resume, the run's own")
    parser.add_argument("--data-dir", default=None, help="folder with the dataset's IDX files (else $VAE_DATA_DIR for "
                        "MNIST, $VAE_FASHION_DIR for Fashion-MNIST, else ./data)")
    parser.add_argument("--resume", default=None, help="continue the run saved in this checkpoint folder")
    parser.add_argument("--init-from", default=None, help="warm-start from this checkpoint's weights (a model with "
                        "more residual blocks grows from it: --encoder-blocks, --decoder-blocks-7x7, -14x14)")
    parser.add_argument("--no-optimizer-state", action="store_true", help="leave the optimizer state out (smaller files)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_dataclass_flags(parser, ModelConfig, skip=("arch",))
    add_dataclass_flags(parser, TrainConfig)
    return parser


def configs_from_args(args: argparse.Namespace) -> tuple[ModelConfig, TrainConfig]:
    """The preset's settings (or, with --resume, the saved run's), overridden by the flags given."""
    preset = PRESETS[args.preset]
    model_base, train_base = preset.model, preset.train
    if args.resume:
        saved = checkpoints.read_config(args.resume)
        model_base, train_base = saved["model_config"], TrainConfig(**saved["train"])
    values = vars(args)
    model_cfg = replace(model_base, **{f.name: values.get(f.name) for f in dataclasses.fields(ModelConfig)
                                       if f.name != "arch"})
    train_cfg = replace(train_base, **{f.name: values.get(f.name) for f in dataclasses.fields(TrainConfig)})
    device = pick_device(train_cfg.device)
    if device.type == "cuda" and preset.cuda_batch_size and args.batch_size is None:
        train_cfg = replace(train_cfg, batch_size=preset.cuda_batch_size)
    return model_cfg, train_cfg


class _Reporter:
    """Turns Progress into a tqdm bar per epoch and one summary line per epoch."""

    def __init__(self, quiet: bool):
        self.quiet, self.bar = quiet, None

    def __call__(self, p: Progress) -> None:
        from tqdm import tqdm
        if p.kind == "step":
            if self.quiet:
                return
            if self.bar is None:
                self.bar = tqdm(total=p.steps_per_epoch, desc=f"epoch {p.epoch}/{p.epochs}", leave=False)
            self.bar.n = (p.step - 1) % p.steps_per_epoch + 1
            self.bar.set_postfix(loss=f"{p.loss:.2f}", kl=f"{p.kl:.2f}", refresh=False)
            self.bar.refresh()
            return
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        val = f"  val -ELBO {p.val['neg_elbo']:.2f}" if p.val else ""
        print(f"epoch {p.epoch:3d}/{p.epochs}  loss {p.loss:9.3f}  rec {p.reconstruction:9.3f}  "
              f"kl {p.kl:7.3f}{val}  {p.images_per_second:8.0f} img/s  lr {p.lr:.2e}", flush=True)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    try:
        model_cfg, train_cfg = configs_from_args(args)
        model_cfg.validate()
        train_cfg.validate_for(model_cfg)
        dataset = args.dataset or (checkpoints.read_config(args.resume).get("dataset") if args.resume else None) or "mnist"
        mnist = data.load_dataset(dataset, args.data_dir)
    except (ValueError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    run_info = {"preset": args.preset, "init_from": args.init_from, "dataset": mnist.name, "classes": list(mnist.classes),
                "command": "python -m vae_core.train " + shlex.join(argv),
                "save_optimizer": not args.no_optimizer_state}
    if args.resume:
        previous = checkpoints.read_metrics(args.resume).get("training", {})
        run_info["history"] = previous.get("history", [])
        # Every command of a run that was resumed, oldest first: the first one set it up.
        run_info["commands_before"] = previous.get("commands") or [c for c in [previous.get("command")] if c]
        run_info["seconds_before"] = previous.get("seconds", 0.0)
        run_info["init_from_training"] = previous.get("init_from_training")
    lead = int(os.environ.get("RANK", "0")) == 0  # under torchrun, one process speaks for all
    if lead:
        print(f"training {args.preset} (latent {model_cfg.latent_dim}, {VAE(model_cfg).num_parameters():,} parameters, "
              f"beta {train_cfg.beta}) on {mnist.name} ({len(mnist.train_images):,} images), on "
              f"{pick_device(train_cfg.device)}, {train_cfg.epochs} epochs, batch {train_cfg.batch_size}"
              + (f" per process x {os.environ['WORLD_SIZE']} processes" if int(os.environ.get("WORLD_SIZE", "1")) > 1
                 else ""), flush=True)
    if args.init_from:
        try:  # before any work: a model that cannot start from those weights
            model_cfg.check_grows_from(checkpoints.read_config(args.init_from)["model_config"])
            # The run those weights came from, so that metrics.json holds every command of a recipe in phases.
            run_info["init_from_training"] = checkpoints.read_metrics(args.init_from).get("training")
        except (ValueError, checkpoints.CheckpointError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
    result = None
    try:
        result = train(model_cfg, train_cfg, mnist, out=args.out, callback=_Reporter(args.quiet),
                       init_from=args.init_from, resume=args.resume, run_info=run_info)
    except TrainingDiverged as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted: the last finished epoch's checkpoint is kept", file=sys.stderr)
        return 130
    finally:
        _leave_group(finished=result is not None)
    if lead:
        print(f"done in {result.seconds:.1f} s on {result.device}; checkpoint: {result.path}")
    return 0


if __name__ == "__main__":
    code = main()
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        _exit_past_group(code)
    raise SystemExit(code)
