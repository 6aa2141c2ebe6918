"""The datasets, into tensors: MNIST and Fashion-MNIST from their IDX files, or a folder of your images.

A dataset is named by `--dataset` on every CLI: "mnist" (the default), "fashion-mnist", or a folder.
An IDX dataset's directory is `--data-dir`, else its environment variable ($VAE_DATA_DIR for MNIST,
$VAE_FASHION_DIR for Fashion-MNIST), else ./data (./data/fashion-mnist). It holds the four files of the
original distribution, gzipped or not. Where they are missing and the network works, torchvision
downloads them there; where neither works, one DataError names the directory and the files.

A folder of images (PNG, JPEG, ... of any size) is made 28x28 grey by the same preparation as an
upload; its classes are its sub-folders' names when it has any (else one class), and a fixed, seeded
share of its images is the test split.

The whole dataset is one uint8 tensor (70,000 x 28 x 28 is 55 MB): it moves to the device once and a
batch is an index slice, with no DataLoader, no workers and no per-sample PIL transforms.
"""

from __future__ import annotations

import gzip
import math
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .images import load_image_file, prepare_user_image

FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
_EXPECTED = {"train_images": (60000, 28, 28), "train_labels": (60000,),
             "test_images": (10000, 28, 28), "test_labels": (10000,)}
# The test set ships with the project (CC BY-SA 3.0, see its README), so that exploring works offline.
EMBEDDED_TEST_DIR = Path(__file__).resolve().parents[1] / "datasets" / "mnist-test"
TEST_BINARIZATION_SEED = 1234  # the binarised test set is the same draw for every model and run


DIGITS = tuple(str(d) for d in range(10))
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"}
FOLDER_TEST_SHARE = 0.15  # of a folder's images, the test split (at least one image)
FOLDER_SPLIT_SEED = 0


@dataclass(frozen=True)
class Source:
    """A dataset distributed as the four IDX files of MNIST's format."""

    title: str  # as people write it
    env: str  # the environment variable naming its directory
    default_dir: str
    torchvision: str  # the torchvision.datasets class that downloads it
    classes: tuple[str, ...]
    noun: str  # what one of its images is, in a sentence ("digit")


DATASETS = {
    "mnist": Source("MNIST", "VAE_DATA_DIR", "data", "MNIST", DIGITS, "digit"),
    "fashion-mnist": Source("Fashion-MNIST", "VAE_FASHION_DIR", "data/fashion-mnist", "FashionMNIST",
                            ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                             "Bag", "Ankle boot"), "item"),
}
FOLDER_NOUN = "image"  # what one image of a folder dataset is called


class DataError(RuntimeError):
    """The dataset is missing or its files are not valid MNIST."""


def resolve_data_dir(data_dir: str | os.PathLike | None = None, dataset: str = "mnist") -> Path:
    """--data-dir, else the dataset's environment variable ($VAE_DATA_DIR for MNIST), else ./data."""
    source = DATASETS[dataset]
    return Path(data_dir or os.environ.get(source.env) or source.default_dir)


def read_idx(path: str | os.PathLike) -> torch.Tensor:
    """Read one IDX file (optionally .gz) into a uint8 tensor, checking its header against its size."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise DataError(f"{path}: cannot be read ({e})") from e
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path}: not an IDX file of unsigned bytes (bad magic number {raw[:4].hex()})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if not 1 <= ndim <= 3 or len(raw) < header:
        raise DataError(f"{path}: bad IDX header ({ndim} dimensions)")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    count = 1
    for s in shape:
        count *= s
    if len(raw) - header != count:
        raise DataError(f"{path}: header says shape {shape} ({count} bytes) but the file holds "
                        f"{len(raw) - header} bytes of data (truncated or padded)")
    return torch.frombuffer(bytearray(raw[header:]), dtype=torch.uint8).reshape(shape)


@dataclass
class MNIST:
    """A dataset's four arrays: images uint8 (N, 28, 28), labels int64 (N,); its name ("mnist",
    "fashion-mnist" or a folder) and its class names (label i is classes[i])."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    name: str = "mnist"
    classes: tuple[str, ...] = DIGITS


def _locate(directory: Path, name: str, torchvision: str = "MNIST") -> Path | None:
    # Also accept torchvision's layout (DIR/MNIST/raw/...), so an existing download is reused.
    for folder in (directory, directory / torchvision / "raw"):
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    return None


def _download(directory: Path, source: Source) -> None:
    """Fetch the files with torchvision's class for the dataset into `directory`. Raises on any failure."""
    import torchvision.datasets  # imported only when needed

    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        for train in (True, False):
            getattr(torchvision.datasets, source.torchvision)(root=tmp, train=train, download=True)
        raw = Path(tmp) / source.torchvision / "raw"
        for name in FILES.values():
            shutil.move(str(raw / name), directory / name)


def load_dataset(dataset: str | os.PathLike = "mnist", data_dir: str | os.PathLike | None = None,
                 download: bool = True) -> MNIST:
    """A dataset by name ("mnist", "fashion-mnist") or a folder of images."""
    if str(dataset) in DATASETS:
        return _load_idx(str(dataset), data_dir, download)
    if Path(dataset).is_dir():
        return load_folder(dataset)
    raise DataError(f"unknown dataset {str(dataset)[:80]!r}: give {', '.join(DATASETS)} or a folder of images")


def load_mnist(data_dir: str | os.PathLike | None = None, download: bool = True) -> MNIST:
    """Read the four MNIST files from the data directory, downloading them if missing and allowed."""
    return _load_idx("mnist", data_dir, download)


def _load_idx(dataset: str, data_dir: str | os.PathLike | None, download: bool) -> MNIST:
    source = DATASETS[dataset]
    directory = resolve_data_dir(data_dir, dataset)
    paths = {key: _locate(directory, name, source.torchvision) for key, name in FILES.items()}
    if any(p is None for p in paths.values()) and download:
        try:
            _download(directory, source)
        except Exception as e:  # no network, no torchvision, a read-only folder: all mean "not here"
            download_error = f" (download failed: {type(e).__name__}: {e})"
        else:
            download_error = ""
        paths = {key: _locate(directory, name, source.torchvision) for key, name in FILES.items()}
    else:
        download_error = ""
    missing = [FILES[k] for k, p in paths.items() if p is None]
    if missing:
        raise DataError(
            f"{source.title} not found in {directory.resolve()}: expected {', '.join(FILES.values())} "
            f"(each optionally .gz); missing {', '.join(missing)}{download_error}. Point --data-dir or "
            f"{source.env} at a folder holding them.")
    arrays = {key: read_idx(path) for key, path in paths.items()}
    for key, shape in _EXPECTED.items():
        if tuple(arrays[key].shape) != shape:
            raise DataError(f"{paths[key]}: shape {tuple(arrays[key].shape)}, expected {shape}")
    for key in ("train_labels", "test_labels"):
        if int(arrays[key].max()) > 9:
            raise DataError(f"{paths[key]}: labels must be digits 0-9")
        arrays[key] = arrays[key].long()
    return MNIST(**arrays, name=dataset, classes=source.classes)


def load_folder(folder: str | os.PathLike) -> MNIST:
    """A folder of images as a dataset: each image made 28x28 grey as an upload is; the classes are the
    sub-folders' names (sorted) when there are any, else one class; FOLDER_TEST_SHARE of them, drawn
    with a fixed seed, is the test split. Files that are no image, or show nothing, are left out."""
    root = Path(folder)
    subfolders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    groups = [(p.name, p) for p in subfolders] or [(root.name, root)]
    pictures, labels = [], []
    for label, (_, where) in enumerate(groups):
        for file in sorted(p for p in where.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()):
            try:
                pictures.append(prepare_user_image(load_image_file(file)))
            except ValueError:
                continue
            labels.append(label)
    if len(pictures) < 2:
        raise DataError(f"{root}: fewer than two readable images (PNG, JPEG, ...) found in it"
                        + (" or its sub-folders" if subfolders else ""))
    x = torch.from_numpy((np.stack(pictures) * 255).round().astype(np.uint8))
    y = torch.tensor(labels, dtype=torch.long)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(FOLDER_SPLIT_SEED))
    n_test = max(1, math.ceil(FOLDER_TEST_SHARE * len(x)))
    test, train = order[:n_test], order[n_test:]
    return MNIST(x[train], y[train], x[test], y[test], name=str(root.resolve()),
                 classes=tuple(name for name, _ in groups))


def load_test_set(data_dir: str | os.PathLike | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The 10,000 test digits and their labels: from the data directory when it holds them, else from
    the copy shipped with the project. Nothing is downloaded."""
    directory = resolve_data_dir(data_dir)
    for folder in (directory, EMBEDDED_TEST_DIR):
        paths = [_locate(folder, FILES["test_images"]), _locate(folder, FILES["test_labels"])]
        if None in paths:
            continue
        images, labels = read_idx(paths[0]), read_idx(paths[1])
        if tuple(images.shape) != _EXPECTED["test_images"] or tuple(labels.shape) != _EXPECTED["test_labels"]:
            raise DataError(f"{paths[0].parent}: the test files do not hold 10,000 28x28 digits and labels")
        return images, labels.long()
    raise DataError(f"the MNIST test files are neither in {directory.resolve()} nor in {EMBEDDED_TEST_DIR}")


def load_test_split(dataset: str | os.PathLike = "mnist",
                    data_dir: str | os.PathLike | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """A dataset's test images and labels, for exploring: MNIST's from the data directory or the copy
    shipped with the project (never downloaded); Fashion-MNIST's from its directory (downloaded where a
    network is); a folder's seeded test split."""
    if str(dataset) == "mnist":
        return load_test_set(data_dir)
    found = load_dataset(dataset, data_dir if str(dataset) in DATASETS else None)
    return found.test_images, found.test_labels


def split_train_val(images: torch.Tensor, labels: torch.Tensor, val_size: int):
    """The last `val_size` training images are the validation split (for model selection only)."""
    if val_size <= 0:
        return (images, labels), (images[:0], labels[:0])
    if val_size >= len(images):
        raise ValueError(f"val_size {val_size} leaves no training images out of {len(images)}")
    return (images[:-val_size], labels[:-val_size]), (images[-val_size:], labels[-val_size:])


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 28, 28) -> float (N, 1, 28, 28) in [0, 1]."""
    return images.unsqueeze(1).float().div_(255)


def binarize(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """A Bernoulli draw of every pixel with its intensity as probability (dynamic binarisation)."""
    return torch.bernoulli(x, generator=generator)


def binarized_test_set(images: torch.Tensor, seed: int = TEST_BINARIZATION_SEED) -> torch.Tensor:
    """The fixed-seed binarised test images that every reported NLL is computed on."""
    generator = torch.Generator().manual_seed(seed)
    return binarize(to_float(images), generator)


def batches(n: int, batch_size: int, generator: torch.Generator, device: torch.device | str = "cpu",
            shuffle: bool = True):
    """Index tensors of one epoch's batches (the last one may be short)."""
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    order = order.to(device)
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]
