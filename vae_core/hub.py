"""Models shared the Hugging Face way. A checkpoint folder already is a Hub model repo (weights as
model.safetensors, config.json); this adds its model card (README.md, written from config.json and
metrics.json), a zip of the folder, pushing it to the Hub, and loading a Hub repo id like a folder.

    python -m vae_core.hub card checkpoints/mnist-z32          # write (or rewrite) its README.md
    python -m vae_core.hub zip checkpoints/mnist-z32 out.zip
    python -m vae_core.hub push checkpoints/mnist-z32 you/mnist-vae   # needs a token (HF_TOKEN or login)
    vae_core.load_model("you/mnist-vae")                        # downloads once, then from the cache

Only the model's own files travel (never optimizer state), and loading reads safetensors and JSON:
nothing downloaded is ever unpickled.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import zipfile
from pathlib import Path

from . import checkpoints
from .model import RECIPES

CARD = "README.md"
SHARED = (checkpoints.WEIGHTS, checkpoints.CONFIG, checkpoints.METRICS, "concepts.safetensors", CARD)
REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$")


def _first_up(words: str) -> str:
    return words[:1].upper() + words[1:]


def is_repo_id(name: str | os.PathLike) -> bool:
    """'owner/name' that is not a folder here: a Hugging Face Hub repo id."""
    return bool(REPO_ID.match(str(name))) and not Path(name).exists()


def model_card(path: str | os.PathLike, repo_id: str | None = None) -> str:
    """The model card of a checkpoint folder: Hub metadata, then what the model is and how good it is,
    in figures from its metrics.json, and how it was trained."""
    cfg, metrics = checkpoints.read_config(path), checkpoints.read_metrics(path)
    model, test, training = cfg["model"], metrics.get("test", {}), metrics.get("training", {})
    dataset = cfg.get("dataset", "mnist")
    name = repo_id or Path(path).name
    lines = ["---", "library_name: pytorch", "license: mit", "tags:", "- vae", "- variational-autoencoder",
             f"- {dataset}", "datasets:", f"- {'fashion_mnist' if dataset == 'fashion-mnist' else dataset}",
             "pipeline_tag: image-to-image", "---", "", f"# {name}", "",
             f"{_first_up(RECIPES.get(model['arch'], model['arch']))} with {model['latent_dim']} latent numbers per image, "
             f"a {model['likelihood']} decoder, trained on {dataset} with KL weight beta = {cfg.get('beta', 1):g}. "
             "Made with the VAE latent space explorer (`vae_core`).", "", "## How good it is", ""]
    if "nll" in test:
        lines += ["| test figure | value |", "|---|---|",
                  f"| negative log-likelihood (k = {test.get('k')}, importance-weighted bound) | "
                  f"**{test['nll']:.2f} nats** ± {test.get('nll_stderr', float('nan')):.2f} |",
                  f"| negative ELBO | {test.get('neg_elbo', float('nan')):.2f} nats |",
                  f"| KL / reconstruction | {test.get('kl', float('nan')):.2f} / {test.get('reconstruction', float('nan')):.2f} nats |",
                  f"| active latent units | {test.get('active_units')} of {model['latent_dim']} |",
                  f"| test images | {test.get('images')} ({test.get('test_set', '')}) |", ""]
    else:
        lines += ["Not evaluated yet: `python -m vae_core.evaluate FOLDER --k 1000` writes its test figures.", ""]
    train = cfg.get("train", {})
    lines += ["## How it was trained", "",
              f"{train.get('epochs', '?')} epochs, batch {train.get('batch_size', '?')}, Adam at lr {train.get('lr', '?')} "
              f"({train.get('lr_schedule', '?')} schedule), seed {train.get('seed', '?')}"
              + (f", in {training['seconds'] / 60:.0f} minutes on {training.get('device_name', training.get('device'))}"
                 if training.get("seconds") else "") + ".", ""]
    if training.get("command"):
        lines += ["```", training["command"], "```", ""]
    lines += ["## Use it", "", "```python", "import vae_core",
              f"model = vae_core.load_model({name!r})  # a folder, or a Hub repo id",
              "mu, logvar = model.encode(images)        # float (N, 1, 28, 28) in [0, 1]",
              "logits = model.decode(mu)               # Bernoulli logits (N, 1, 28, 28)", "```", ""]
    return "\n".join(lines)


def write_card(path: str | os.PathLike, repo_id: str | None = None) -> Path:
    """Write the folder's README.md (its model card); returns its path."""
    card = Path(path) / CARD
    tmp = card.with_name(f".{CARD}.tmp")
    tmp.write_text(model_card(path, repo_id))
    tmp.replace(card)
    return card


def zip_bytes(path: str | os.PathLike, name: str | None = None) -> bytes:
    """The checkpoint folder's shared files as a zip, with a fresh model card, inside a folder called
    `name` (default: the folder's): unzipped, that folder loads with vae_core.load_model. The same
    checkpoint always gives the same bytes (fixed dates; stored, since weights hardly compress)."""
    path = Path(path)
    checkpoints.read_config(path)  # a damaged folder is refused, not zipped
    top = (name or path.name).replace("/", "--")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for file in SHARED:
            if file == CARD or (path / file).is_file():
                data = model_card(path, name) if file == CARD else (path / file).read_bytes()
                z.writestr(zipfile.ZipInfo(f"{top}/{file}", date_time=(2020, 1, 1, 0, 0, 0)), data)
    return buf.getvalue()


def load_model(name: str | os.PathLike, device: str = "cpu"):
    """The model of a checkpoint folder, or of a Hugging Face Hub repo id ('owner/name', fetched once into
    the Hub's cache), in eval mode, on `device`."""
    return checkpoints.load_model(download(str(name)) if is_repo_id(name) else Path(name), device)


def download(repo_id: str, revision: str | None = None) -> Path:
    """A Hub repo's model files in the local Hugging Face cache (fetched once; offline, from the cache)."""
    from huggingface_hub import snapshot_download

    if not REPO_ID.match(repo_id):
        raise checkpoints.CheckpointError(f"{repo_id!r} is neither a checkpoint folder nor a Hub repo id (owner/name)")
    try:
        return Path(snapshot_download(repo_id, revision=revision, allow_patterns=list(SHARED)))
    except Exception as e:  # no network, no such repo, no access: one sentence, not a traceback
        raise checkpoints.CheckpointError(f"{repo_id}: could not be fetched from the Hugging Face Hub "
                                          f"or found in its cache ({type(e).__name__}: {str(e)[:200]})") from None


def push(path: str | os.PathLike, repo_id: str, private: bool = False, token: str | None = None) -> str:
    """Write the model card and upload the folder's shared files as the Hub model repo `repo_id`; returns
    the repo's URL."""
    from huggingface_hub import HfApi

    write_card(path, repo_id)
    api = HfApi(token=token)
    api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
    api.upload_folder(folder_path=str(path), repo_id=repo_id, repo_type="model", allow_patterns=list(SHARED),
                      commit_message="Upload a vae_core checkpoint")
    return f"https://huggingface.co/{repo_id}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vae_core.hub", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("card", help="write a checkpoint folder's model card").add_argument("folder")
    z = sub.add_parser("zip", help="the folder and its card as a zip")
    z.add_argument("folder")
    z.add_argument("out")
    p = sub.add_parser("push", help="upload to the Hugging Face Hub (needs HF_TOKEN or `hf auth login`)")
    p.add_argument("folder")
    p.add_argument("repo_id")
    p.add_argument("--private", action="store_true")
    args = parser.parse_args(argv)
    try:
        if args.command == "card":
            print(write_card(args.folder))
        elif args.command == "zip":
            Path(args.out).write_bytes(zip_bytes(args.folder))
            print(args.out)
        else:
            print(push(args.folder, args.repo_id, args.private))
    except checkpoints.CheckpointError as e:
        parser.exit(2, f"error: {e}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
