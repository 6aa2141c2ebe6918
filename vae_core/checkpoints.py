"""Checkpoints as data, not programs: safetensors for tensors, JSON for everything else.

A checkpoint is a folder:
  model.safetensors           the weights
  config.json                 all that rebuilds the model (format_version, model, train, latent_dim, beta,
                              likelihood) and, for resuming, where training stopped
  metrics.json                test figures, training time, device, the exact command
  training_state.safetensors  optional: optimizer moments and RNG states, to resume training

Weights are saved in float32. A model that is only served may have them rewritten in float16
(`halve_weights`, half the bytes); loading casts them back to float32.

A folder is written whole into a temporary sibling (config.json last, so a folder with a config is
whole) and renamed into place, so a crash leaves either the old checkpoint or the new one, never half
of one; a crash between the two renames is finished by the next read (`recover`), and what a killed save
left beside a checkpoint is removed by the next read or save once its writer has gone (the siblings'
names hold the writer's pid). Loading never unpickles anything.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import shutil
import tempfile
from dataclasses import asdict, astuple
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from . import swap
from .model import VAE, ModelConfig

FORMAT_VERSION = 1
STALE_SECONDS = swap.STALE_SECONDS
log = logging.getLogger(__name__)
_reported: dict[str, str] = {}  # folder -> why it was left out of a listing, logged once
WEIGHTS, CONFIG, METRICS, STATE = "model.safetensors", "config.json", "metrics.json", "training_state.safetensors"


class CheckpointError(RuntimeError):
    """A checkpoint folder is missing, truncated, corrupt, foreign or does not match its config."""


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")


def save_checkpoint(path: str | os.PathLike, model: VAE, config: dict, metrics: dict | None = None,
                    training_state: dict[str, torch.Tensor] | None = None) -> None:
    """Write the checkpoint folder atomically: a temporary sibling, then a rename over the old one; then
    remove what earlier saves, killed, left beside it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with swap.saving(path):
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-{os.getpid()}-", dir=path.parent))
        tmp.chmod(0o755)
        try:
            state = {k: v.detach().float().cpu().contiguous() for k, v in model.state_dict().items()}
            save_file(state, str(tmp / WEIGHTS))
            _write_json(tmp / METRICS, metrics or {})
            if training_state:
                save_file({k: v.detach().cpu().contiguous() for k, v in training_state.items()}, str(tmp / STATE))
            cfg = {"format_version": FORMAT_VERSION, "latent_dim": model.cfg.latent_dim,
                   "likelihood": model.cfg.likelihood, **config, "model": asdict(model.cfg)}
            _write_json(tmp / CONFIG, cfg)  # last: a folder with a config is whole
            swap.into_place(tmp, path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    recover(path)


def _is_whole(folder: Path) -> bool:
    try:
        check_weights(folder, read_config(folder, finish=False)["model_config"])
        read_metrics(folder)
        if (folder / STATE).exists():
            with safe_open(str(folder / STATE), framework="pt"):
                pass
        return True
    except (CheckpointError, SafetensorError, OSError):
        return False


def recover(path: str | os.PathLike) -> None:
    """Finish what an interrupted save left (swap.recover, with a whole checkpoint as a whole copy)."""
    swap.recover(path, _is_whole)


def read_config(path: str | os.PathLike, finish: bool = True) -> dict:
    """config.json of a checkpoint folder, validated, once what an interrupted save left beside it is
    finished (unless `finish` is False); raises CheckpointError naming the file."""
    path = Path(path)
    if finish:
        recover(path)
    if not path.is_dir():
        what = "does not exist" if not path.exists() else "is a file, not a checkpoint folder"
        raise CheckpointError(f"{path}: {what} (a checkpoint is a folder with {WEIGHTS} and {CONFIG})")
    file = path / CONFIG
    try:
        cfg = json.loads(file.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{file}: missing") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{file}: not valid JSON ({e})") from None
    if not isinstance(cfg, dict) or cfg.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{file}: not a vae_core checkpoint config of format version {FORMAT_VERSION}")
    try:
        model_cfg = ModelConfig(**cfg["model"])
        model_cfg.validate()
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{file}: bad model section ({e})") from None
    beta = cfg.get("beta", 1.0)
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not math.isfinite(beta) or beta < 0:
        raise CheckpointError(f"{file}: beta must be a number of at least 0, not {json.dumps(beta)[:40]}")
    cfg["model_config"] = model_cfg
    return cfg


def read_metrics(path: str | os.PathLike) -> dict:
    """metrics.json of a checkpoint folder ({} when absent)."""
    file = Path(path) / METRICS
    if not file.exists():
        return {}
    try:
        return json.loads(file.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{file}: not valid JSON ({e})") from None


def update_metrics(path: str | os.PathLike, updates: dict) -> None:
    """Merge `updates` into metrics.json, through a temporary file renamed into place."""
    path = Path(path)
    read_config(path)
    _replace_metrics(path, {**read_metrics(path), **updates})


def _replace_metrics(path: Path, metrics: dict) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".metrics-", dir=path)
    with os.fdopen(fd, "w") as f:
        f.write(json.dumps(metrics, indent=2) + "\n")
    os.replace(tmp, path / METRICS)


def _load_tensors(file: Path) -> dict[str, torch.Tensor]:
    _check_is_file(file)
    try:
        return load_file(str(file))
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"{file}: not a readable safetensors file (truncated, corrupt or "
                              f"another format; pickles are never loaded): {e}") from None


def _check_is_file(file: Path) -> None:
    if file.is_symlink():
        raise CheckpointError(f"{file}: a link, not a file (checkpoints hold their own weights)")
    if not file.is_file():
        raise CheckpointError(f"{file}: missing")


@functools.lru_cache(maxsize=64)
def _expected_shapes(*fields) -> dict[str, tuple[int, ...]]:
    """Each tensor's shape in a model of this config (its fields, in order); one build per config, since a
    page load lists every folder."""
    with torch.device("meta"):  # shapes without memory or initialisation
        return {k: tuple(v.shape) for k, v in VAE(ModelConfig(*fields)).state_dict().items()}


def check_weights(path: str | os.PathLike, model_cfg: ModelConfig) -> None:
    """The weights file's header names every tensor of the config's model with its shape, and the file
    is whole. Reads the header only: cheap enough to run on every folder a program lists."""
    file = Path(path) / WEIGHTS
    _check_is_file(file)
    try:
        with safe_open(str(file), framework="pt") as f:
            shapes = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"{file}: not a readable safetensors file (truncated, corrupt or "
                              f"another format; pickles are never loaded): {e}") from None
    expected = _expected_shapes(*astuple(model_cfg))
    if shapes != expected:
        wrong = sorted(set(shapes) ^ set(expected)) or [k for k in expected if shapes[k] != expected[k]]
        raise CheckpointError(f"{file}: does not match {CONFIG} (first difference: {wrong[0]})")


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu") -> VAE:
    """Rebuild the model of a checkpoint folder in eval mode, on `device` (a Hub repo id too: hub.load_model,
    which vae_core.load_model is)."""
    path = Path(path)
    cfg = read_config(path)
    model = VAE(cfg["model_config"])
    tensors = _load_tensors(path / WEIGHTS)
    broken = next((k for k, t in tensors.items() if t.is_floating_point() and not torch.isfinite(t).all()), None)
    if broken is not None:  # a run that diverged, or a damaged file: it would draw nothing and answer NaN
        raise CheckpointError(f"{path / WEIGHTS}: {broken} holds values that are not finite (NaN or infinite)")
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as e:
        first = str(e).strip().splitlines()[0:3]
        raise CheckpointError(f"{path / WEIGHTS}: does not match {CONFIG} ({' '.join(first)})") from None
    return model.to(device).eval()


def halve_weights(path: str | os.PathLike) -> dict:
    """Rewrite a checkpoint's weights in float16, half the bytes, for a model that is only served (the shipped
    beta ladder and 2-D model). Loading casts them back to float32, so the model computes as before up to float16's rounding;
    its test figures are dropped from metrics.json, as they were another model's, and `vae_core.evaluate`
    measures the halved one. Refused, changing nothing, for a folder that can resume training (its weights
    must stay exact) or a weight beyond float16's range. Returns what it records in metrics.json."""
    path = Path(path)
    cfg = read_config(path)
    check_weights(path, cfg["model_config"])
    if (path / STATE).exists():
        raise CheckpointError(f"{path}: holds {STATE}, for resuming training, which needs its weights exact")
    tensors = _load_tensors(path / WEIGHTS)
    metrics = read_metrics(path)
    if all(t.dtype == torch.float16 for t in tensors.values() if t.is_floating_point()):
        return metrics.get("weights", {"dtype": "float16"})  # halved already: nothing to do
    limit = torch.finfo(torch.float16).max
    halved, change = {}, 0.0
    for k, t in tensors.items():
        if t.is_floating_point():
            if not torch.isfinite(t).all() or t.abs().max() > limit:
                raise CheckpointError(f"{path / WEIGHTS}: {k} holds values beyond float16's range")
            h = t.half()
            change = max(change, (h.float() - t.float()).abs().max().item())
            halved[k] = h.contiguous()
        else:
            halved[k] = t
    record = {"dtype": "float16", "largest_change": change}
    # The figures go first: a crash before the weights are replaced leaves a model to halve again, never
    # float16 weights beside float32's figures.
    _replace_metrics(path, {**{k: v for k, v in metrics.items() if k != "test"}, "weights": record})
    fd, tmp = tempfile.mkstemp(prefix=".weights-", dir=path)
    os.close(fd)
    try:
        save_file(halved, tmp)
        os.replace(tmp, path / WEIGHTS)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return record


def training_state(opt: torch.optim.Optimizer, gens: dict[str, torch.Generator]) -> dict[str, torch.Tensor]:
    """What resuming a run needs besides the weights, as tensors for STATE: the optimizer's state (optim.N.key)
    and the random streams (rng.name)."""
    tensors = {"rng.torch": torch.get_rng_state()}
    tensors.update({f"rng.{name}": g.get_state() for name, g in gens.items()})
    for index, state in opt.state_dict()["state"].items():
        for key, value in state.items():
            tensors[f"optim.{index}.{key}"] = torch.as_tensor(value)
    return tensors


def restore_training_state(opt: torch.optim.Optimizer, gens: dict[str, torch.Generator],
                           tensors: dict[str, torch.Tensor], device: torch.device) -> None:
    """Put training_state's tensors back into the optimizer and the random streams."""
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


def load_training_state(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Optimizer moments and RNG states saved for resuming."""
    return _load_tensors(Path(path) / STATE)


def list_checkpoints(*roots: str | os.PathLike) -> list[dict]:
    """Every valid checkpoint folder directly under the given roots, with its config and metrics.

    A folder whose config, metrics or weights' header is damaged is left out, logged once (left_out)."""
    found = []
    for root in roots:
        root = Path(root)
        if not root.is_dir():
            continue
        for name in {p.name[1:].split(".tmp-")[0].split(".old-")[0] for p in root.glob(".*.*-*")}:
            recover(root / name)
        for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            try:
                found.append(describe(folder))
                _reported.pop(os.path.abspath(folder), None)
            except CheckpointError as e:
                left_out(folder, e)
    return found


def left_out(folder: str | os.PathLike, error: Exception) -> None:
    """Log that a damaged checkpoint folder is left out of a listing, once per process for the same folder
    and reason (a page load lists them all)."""
    key = os.path.abspath(folder)
    if _reported.get(key) != str(error):
        _reported[key] = str(error)
        log.warning("checkpoint left out: %s", error)


def describe(folder: str | os.PathLike, name: str | None = None) -> dict:
    """A checkpoint folder's name, path, config and metrics, once its config, metrics and weights' header
    have been checked; raises CheckpointError when one is damaged."""
    folder = Path(folder)
    cfg = read_config(folder)
    metrics = read_metrics(folder)
    check_weights(folder, cfg["model_config"])
    return {"name": name or folder.name, "path": str(folder), "config": cfg, "metrics": metrics}
