"""The training command line: flags mapped onto config.py's dataclasses, a progress bar, one line an epoch.

    python -m vae_core.train --preset default --latent-dim 16 --beta 1 --epochs 30 --out checkpoints/NAME
    torchrun --nproc_per_node=2 -m vae_core.train ... --out checkpoints/NAME   # several processes or machines
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys

from . import checkpoints, data, distributed
from .config import PRESETS, TrainConfig, add_dataclass_flags, replace
from .model import VAE, ModelConfig
from .train import Progress, TrainingDiverged, pick_device, train


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


HELD_OUT_SHARE = 0.1  # of a small dataset's training images, held out when --val-size is not given
FEWEST_TO_TRAIN = 10  # training images below which a run is refused before any work


def held_out_for(cfg: TrainConfig, n: int, given: bool) -> TrainConfig:
    """The run's validation split for a dataset of `n` training images: the preset's, or where that would
    leave too few to train on (a folder of a few hundred pictures), a tenth of them; refused, in a sentence,
    where even then too few remain, or where a --val-size given leaves none."""
    if n - cfg.val_size >= FEWEST_TO_TRAIN:
        return cfg
    if given:
        raise ValueError(f"--val-size {cfg.val_size} leaves {max(0, n - cfg.val_size)} of the {n} training "
                         f"images to train on; give a smaller one (or 0 to hold none out)")
    if n < FEWEST_TO_TRAIN:
        raise ValueError(f"the dataset has {n} training images; a model needs at least {FEWEST_TO_TRAIN} "
                         "(a folder's test split takes 15% of its pictures)")
    return replace(cfg, val_size=int(n * HELD_OUT_SHARE))


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
        train_cfg = held_out_for(train_cfg, len(mnist.train_images), given=args.val_size is not None)
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
    lead = distributed.is_lead()  # under torchrun, one process speaks for all
    if lead:
        print(f"training {args.preset} (latent {model_cfg.latent_dim}, {VAE(model_cfg).num_parameters():,} parameters, "
              f"beta {train_cfg.beta}) on {mnist.name} ({len(mnist.train_images):,} images), on "
              f"{pick_device(train_cfg.device)}, {train_cfg.epochs} epochs, batch {train_cfg.batch_size}"
              + (f" per process x {distributed.world_size()} processes" if distributed.world_size() > 1 else ""),
              flush=True)
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
        distributed.leave(finished=result is not None)
    if lead:
        print(f"done in {result.seconds:.1f} s on {result.device}; checkpoint: {result.path}")
    return 0


def run() -> None:
    """`python -m vae_core.train`: main(), and under torchrun an exit past the process group."""
    code = main()
    if distributed.world_size() > 1:
        distributed.exit_past_group(code)
    raise SystemExit(code)
