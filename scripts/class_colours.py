"""Which ten colours the maps use, and which class gets which: classes that sit side by side on the shipped
maps get colours that are hard to mistake for each other, with normal sight and with red-green colour blindness.

With --palette it first chooses the ten from a pool of well-known palettes (Okabe-Ito, Tol's muted, Tableau 10,
D3), readable on white (CIELAB lightness below 80): the ten whose two closest colours are farthest apart, with
normal sight (ΔE) plus 0.3 times the same with deuteranopia or protanopia (local search, 300 random starts).
Okabe-Ito alone gave yellow, orange and vermillion, and sky blue and blue, that a class on a projector took
for one another (closest pair ΔE 26); the chosen ten are ΔE 42 apart at least.

For each shipped MNIST and Fashion-MNIST map (the 2-D models' planes, the 32-D models' shipped UMAPs) it
counts how often a test image's 10 nearest neighbours on the map are of another class; a pair of classes
costs that share times how alike their colours are (exp(-ΔE/25), ΔE in CIELAB, the least of normal sight and
the Machado 2009 deuteranopia and protanopia views, these weighted 1.5); a local search over orders of the
palette (200 random starts, pairwise swaps) finds the cheapest. Needs VAE_DATA_DIR and VAE_FASHION_DIR.

    python scripts/class_colours.py [--palette]
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


POOL = ["#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7",  # Okabe-Ito
        "#332288", "#88CCEE", "#44AA99", "#117733", "#999933", "#DDCC77", "#CC6677", "#882255", "#AA4499",  # Tol
        "#4E79A7", "#F28E2B", "#E15759", "#76B7B2", "#59A14F", "#EDC948", "#B07AA1", "#FF9DA7", "#9C755F",  # Tableau
        "#BAB0AC", "#6A3D9A", "#8C564B", "#7F7F7F", "#1F77B4", "#2CA02C", "#9467BD", "#17BECF", "#BCBD22",  # D3
        "#E377C2", "#A6761D", "#666666"]


def _distances(palette: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """ΔE between every two colours: with normal sight, and the least of deuteranopia's and protanopia's."""
    rgb = [linear_rgb(c) for c in palette]
    normal = np.array([[np.linalg.norm(lab(a) - lab(b)) for b in rgb] for a in rgb])
    seen = [[lab((m @ c).clip(0, 1)) for c in rgb] for m in (DEUTAN, PROTAN)]
    deficient = np.min([[[np.linalg.norm(v[i] - v[j]) for j in range(len(rgb))] for i in range(len(rgb))]
                        for v in seen], axis=0)
    return normal, deficient


def separation(palette: list[str]) -> tuple[float, float]:
    """The ΔE of the palette's two closest colours with normal sight, and with deuteranopia or protanopia."""
    normal, deficient = _distances(palette)
    off = ~np.eye(len(palette), dtype=bool)
    return float(normal[off].min()), float(deficient[off].min())


def choose_palette() -> list[str]:
    readable = [c for c in POOL if lab(linear_rgb(c))[0] < 80]
    normal, deficient = _distances(readable)
    np.fill_diagonal(normal, np.inf)
    np.fill_diagonal(deficient, np.inf)

    def score(chosen: list[int]) -> float:
        ix = np.ix_(chosen, chosen)
        return float(normal[ix].min() + 0.3 * deficient[ix].min())
    best, rng = None, np.random.default_rng(0)
    for _ in range(300):
        chosen = list(rng.choice(len(readable), 10, replace=False))
        s, better = score(chosen), True
        while better:
            better = False
            for i, c in itertools.product(range(10), range(len(readable))):
                if c not in chosen and score(chosen[:i] + [c] + chosen[i + 1:]) > s + 1e-9:
                    chosen[i] = c
                    s, better = score(chosen), True
        best = max(best or (s, sorted(chosen)), (s, sorted(chosen)))
    return sorted(readable[i] for i in best[1])


def main() -> None:
    palette = choose_palette() if "--palette" in sys.argv else DIGIT_COLOURS
    print("separation (normal, colour-blind ΔE): current", [round(v, 1) for v in separation(DIGIT_COLOURS)],
          "this palette", [round(v, 1) for v in separation(palette)])
    registry = Registry("checkpoints", tempfile.mkdtemp(), tempfile.mkdtemp())
    share = np.zeros((10, 10))
    for dataset, names in (("mnist", ("mnist-z2", "mnist-z32")), ("fashion-mnist", ("fashion-z2", "fashion-z32"))):
        images, labels = data.load_test_split(dataset)
        for name in names:
            coords = np.asarray(registry.embedding(name, images).mu)
            if coords.shape[1] > 2:
                coords = np.load(registry.shipped_umap_path(name)).astype(np.float32)
            share += neighbours(coords, np.asarray(labels))
    colours = sorted(palette)  # whatever its current order
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
    if palette is DIGIT_COLOURS:
        print(f"cost of the current order {cost([colours.index(c) for c in DIGIT_COLOURS]):.3f}")
    print(f"cost of the best order found {best[0]:.3f}")
    print("DIGIT_COLOURS =", [colours[k] for k in best[1]])


if __name__ == "__main__":
    main()
