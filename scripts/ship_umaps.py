"""Compute the UMAP of the test set for every shipped model with more than two latent dimensions, and
store it beside the models (checkpoints/.umap/umap-<weights digest>.npy, float16), so that the app
shows a shipped model's UMAP at once. A stored UMAP whose weights are no longer shipped is removed.

    python scripts/ship_umaps.py [checkpoints]
"""

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vae_core import data  # noqa: E402
from vae_core.latent import umap_embed  # noqa: E402
from vae_core.registry import SHIPPED_UMAPS, Registry  # noqa: E402


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "checkpoints")
    registry = Registry(root, root / ".none", root / ".none")
    wanted = {registry.shipped_umap_path(name) for name in registry.names()}
    for stale in sorted(set((root / SHIPPED_UMAPS).glob("umap-*.npy")) - wanted):
        stale.unlink()
        print(f"removed {stale}: no shipped model has those weights", flush=True)
    for name in registry.names():
        if registry.model(name).latent_dim <= 2:
            continue
        path = registry.shipped_umap_path(name)
        if path.is_file():  # named by the weights' digest: still this model's
            continue
        t0 = time.perf_counter()
        test_images, _ = data.load_test_split(registry.entry(name).config.get("dataset", "mnist"))
        umap = umap_embed(registry.embedding(name, test_images).mu)
        path.parent.mkdir(exist_ok=True)
        np.save(path, umap.astype(np.float16), allow_pickle=False)
        print(f"{name}: {path} ({time.perf_counter() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
