"""Which class gets which of the ten map colours: classes that sit side by side on the shipped maps get
colours that are hard to mistake for each other, with normal sight and with red-green colour blindness.

For each shipped MNIST and Fashion-MNIST map (the 2-D models' planes, the 32-D models' shipped UMAPs) it
counts how often a test image's 10 nearest neighbours on the map are of another class; a pair of classes
costs that share times how alike their colours are (exp(-ΔE/25), ΔE in CIELAB, the least of normal sight and
the Machado 2009 deuteranopia and protanopia views, these weighted 1.5); a local search over orders of the
palette (200 random starts, pairwise swaps) finds the cheapest. Needs VAE_DATA_DIR and VAE_FASHION_DIR.

    python scripts/class_colours.py
"""

import itertools
import sys
import tempfile
from pathlib import Path

import numpy as np
from sklearn.neighbors import NearestNeighbors

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ui.figures import DIGIT_COLOURS  # noqa: E402
from vae_core import data  # noqa: E402
from vae_core.registry import Registry  # noqa: E402

DEUTAN = np.array([[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]])
PROTAN = np.array([[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]])


def linear_rgb(hex_colour: str) -> np.ndarray:
    rgb = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)]) / 255
    return np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)


def lab(rgb: np.ndarray) -> np.ndarray:
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ rgb
    f = np.cbrt(xyz / [0.95047, 1.0, 1.08883]).clip(min=0)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def alike(a: str, b: str) -> float:
    """How easily two colours are mistaken: 1 for the same colour, towards 0 for very different ones."""
    ra, rb = linear_rgb(a), linear_rgb(b)
    seen = [np.linalg.norm(lab(ra) - lab(rb))]
    seen += [1.5 * np.linalg.norm(lab((m @ ra).clip(0, 1)) - lab((m @ rb).clip(0, 1))) for m in (DEUTAN, PROTAN)]
    return float(np.exp(-min(seen) / 25))


def neighbours(coords: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """share[i, j]: how often the 10 nearest neighbours of a class-i image are of class j (symmetrised)."""
    idx = NearestNeighbors(n_neighbors=11).fit(coords).kneighbors(coords, return_distance=False)[:, 1:]
    share = np.stack([np.bincount(labels[idx[labels == c]].ravel(), minlength=10) for c in range(10)]).astype(float)
    share = share / share.sum(1, keepdims=True)
    share = (share + share.T) / 2
    np.fill_diagonal(share, 0)
    return share


def main() -> None:
    registry = Registry("checkpoints", tempfile.mkdtemp(), tempfile.mkdtemp())
    share = np.zeros((10, 10))
    for dataset, names in (("mnist", ("mnist-z2", "mnist-z32")), ("fashion-mnist", ("fashion-z2", "fashion-z32"))):
        images, labels = data.load_test_split(dataset)
        for name in names:
            coords = np.asarray(registry.embedding(name, images).mu)
            if coords.shape[1] > 2:
                coords = np.load(registry.shipped_umap_path(name)).astype(np.float32)
            share += neighbours(coords, np.asarray(labels))
    colours = sorted(DIGIT_COLOURS)  # the palette, whatever its current order
    mistaken = np.array([[alike(a, b) for b in colours] for a in colours])
    cost = lambda order: float((share * mistaken[np.ix_(order, order)]).sum())  # noqa: E731
    best, rng = None, np.random.default_rng(0)
    for _ in range(200):
        order, c, better = list(rng.permutation(10)), None, True
        c = cost(order)
        while better:
            better = False
            for i, j in itertools.combinations(range(10), 2):
                swapped = order.copy()
                swapped[i], swapped[j] = swapped[j], swapped[i]
                if cost(swapped) < c - 1e-12:
                    order, c, better = swapped, cost(swapped), True
        best = min(best or (c, order), (c, order))
    now = [colours.index(c) for c in DIGIT_COLOURS]
    print(f"cost of the current order {cost(now):.3f}, of the best found {best[0]:.3f}")
    print("DIGIT_COLOURS =", [colours[k] for k in best[1]])


if __name__ == "__main__":
    main()
