"""Shared fixtures. Tests that need MNIST skip, saying why, when no data directory holds it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
torch.set_num_threads(min(2, os.cpu_count() or 1))

from vae_core import data  # noqa: E402

NO_DATA = ("MNIST not found: set VAE_DATA_DIR to a folder with the four IDX files "
           "(CI uses ../shared/data/mnist)")


@pytest.fixture(scope="session")
def mnist() -> data.MNIST:
    try:
        return data.load_mnist(download=False)
    except data.DataError as e:
        pytest.skip(f"{NO_DATA} ({e})")


@pytest.fixture(scope="session")
def data_dir(mnist) -> str:
    return str(data.resolve_data_dir())
