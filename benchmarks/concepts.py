"""Make-a-digit, attribute directions and "does the model recognise this?", measured.

    python -m benchmarks.concepts [--model checkpoints/mnist-z32] [--smoke] [--save]

Fits the model's concepts (vae_core.concepts) on the training digits, then reports:
- make a digit: for each class, how many generated digits (variety 1) encode back to that class;
- each direction (thickness, slant, width, height): how its own property changes along it, in standard
  deviations per step, how often that change is monotonic, and how much the other properties move;
- recognition: the AUROC of the model's digit-likeness (its bound and its code's typicality) between test digits and generated non-digits (letters,
  shapes, scribbles, noise, each made into a 28x28 picture the way an upload is), and the percentiles of
  a few examples.
--save writes the fitted concepts next to the model (concepts.safetensors), where the app finds them.
"""

from __future__ import annotations

import argparse
import string
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from vae_core import checkpoints, concepts, data, images, latent, load_model

ROOT = Path(__file__).resolve().parents[1]
STEPS = (-2.0, -1.0, 0.0, 1.0, 2.0)  # slider positions, in standard deviations of the property


def _canvas() -> tuple[Image.Image, ImageDraw.ImageDraw]:
    im = Image.new("L", (280, 280), 255)
    return im, ImageDraw.Draw(im)


def non_digits(n_each: int, seed: int = 0) -> dict[str, list[np.ndarray]]:
    """Pictures that are not digits, dark on light like a drawing or a photo, by kind: capital letters,
    shapes, scribbles and noise. Each is made 28x28 by the upload preprocessing."""
    rng = np.random.default_rng(seed)
    out: dict[str, list[np.ndarray]] = {"letter": [], "shape": [], "scribble": [], "noise": []}
    letters = [c for c in string.ascii_uppercase if c not in "IOSZBGQDL"]  # leave out digit look-alikes
    for i in range(n_each):
        im, d = _canvas()
        font = ImageFont.load_default(size=int(rng.integers(150, 220)))
        d.text((140, 140), letters[i % len(letters)], font=font, fill=0, anchor="mm")
        out["letter"].append(im)
        im, d = _canvas()
        kind, w = i % 4, int(rng.integers(10, 24))
        a, b = rng.integers(30, 90, 2), rng.integers(190, 250, 2)
        if kind == 0:
            d.ellipse([*a, *b], outline=0, width=w)
            d.ellipse([a[0] + 35, a[1] + 35, b[0] - 35, b[1] - 35], outline=0, width=w)  # two rings
        elif kind == 1:
            d.rectangle([*a, *b], outline=0, width=w)
        elif kind == 2:
            d.polygon([(140, a[1]), (b[0], b[1]), (a[0], b[1])], outline=0, width=w)
        else:
            pts = [(140 + 110 * np.cos(t) * (0.45 if k % 2 else 1), 140 + 110 * np.sin(t) * (0.45 if k % 2 else 1))
                   for k, t in enumerate(np.linspace(-np.pi / 2, 1.5 * np.pi, 11)[:-1])]
            d.polygon(pts, outline=0, width=w)  # a star
        out["shape"].append(im)
        im, d = _canvas()
        pts = np.cumsum(rng.normal(0, 45, (int(rng.integers(8, 16)), 2)), 0) + 140
        d.line([tuple(p) for p in np.clip(pts, 20, 260)], fill=0, width=int(rng.integers(12, 22)), joint="curve")
        out["scribble"].append(im)
        if i % 2:
            noise = rng.uniform(0, 255, (280, 280))
        else:  # blotches: smoothed noise, thresholded
            small = rng.uniform(0, 1, (7, 7))
            noise = np.asarray(Image.fromarray((small * 255).astype(np.uint8)).resize((280, 280), Image.BICUBIC))
            noise = np.where(noise > 150, 0, 255)
        out["noise"].append(Image.fromarray(noise.astype(np.uint8)))
    prepared = {}
    for kind, pictures in out.items():
        prepared[kind] = []
        for im in pictures:
            try:
                prepared[kind].append(images.prepare_user_image(im))
            except ValueError:  # refused at upload ("no digit found"): never reaches the model
                pass
    return prepared


def auroc(positive: np.ndarray, negative: np.ndarray) -> float:
    """The chance that a random positive scores above a random negative (ties count half)."""
    scores = np.concatenate([positive, negative])
    ranks = np.argsort(np.argsort(scores, kind="mergesort"), kind="mergesort") + 1.0
    for v in np.unique(scores):  # average ranks over ties
        tie = scores == v
        ranks[tie] = ranks[tie].mean()
    r = ranks[:len(positive)].sum()
    return float((r - len(positive) * (len(positive) + 1) / 2) / (len(positive) * len(negative)))


@torch.no_grad()
def make_a_digit(model, c: concepts.Concepts, per_class: int) -> list[float]:
    g = torch.Generator().manual_seed(0)
    accuracy = []
    for digit in range(10):
        made = latent.decode_images(model, c.sample(digit, per_class, 1.0, g))
        back, _ = model.encode(made)
        accuracy.append(float((c.classify(back.numpy()) == digit).mean()))
    return accuracy


@torch.no_grad()
def directions(model, c: concepts.Concepts, test_images: torch.Tensor, n: int) -> dict[str, dict]:
    mu, _ = model.encode(data.to_float(test_images[:n]))
    spread = {p: v.std() for p, v in concepts.measure(data.to_float(test_images)).items()}
    report = {}
    for prop in concepts.PROPERTIES:
        measured = np.stack([np.stack([concepts.measure(latent.decode_images(model, c.move(mu, prop, s)))[q]
                                       for q in concepts.PROPERTIES]) for s in STEPS])  # (steps, props, n)
        steps = np.diff(measured, axis=0)  # (steps-1, props, n)
        i = concepts.PROPERTIES.index(prop)
        per_step = {q: float(steps[:, j].mean() / spread[q]) for j, q in enumerate(concepts.PROPERTIES)}
        # Monotonic: never decreasing from step to step, and larger at the end (width and height are whole
        # pixels, so a step may leave them unchanged).
        rising = (steps[:, i] >= 0).all(0) & (measured[-1, i] > measured[0, i])
        report[prop] = {"own_per_step_sd": per_step[prop], "monotonic": float(rising.mean()),
                        "others_per_step_sd": {q: v for q, v in per_step.items() if q != prop}}
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.concepts", description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ROOT / "checkpoints" / "mnist-z32"))
    parser.add_argument("--smoke", action="store_true", help="small sizes, a few seconds")
    parser.add_argument("--save", action="store_true", help="write concepts.safetensors next to the model")
    args = parser.parse_args(argv)
    torch.set_grad_enabled(False)
    model = load_model(args.model)
    dataset = checkpoints.read_config(args.model).get("dataset", "mnist")  # the model's own: MNIST's or another
    mnist = data.load_dataset(dataset)
    n_train, n_test, per_class, n_move, n_odd = (2000, 500, 50, 50, 8) if args.smoke else (60000, 10000, 1000, 500, 100)
    t0 = time.perf_counter()
    c = concepts.fit(model, mnist.train_images[:n_train], mnist.train_labels[:n_train], mnist.test_images[:n_test],
                     len(mnist.classes))
    print(f"model {Path(args.model).name}: concepts fitted on {n_train} training digits, {n_test} test digits "
          f"scored (k = {concepts.LIKELIHOOD_SAMPLES}) in {time.perf_counter() - t0:.1f} s")
    acc = make_a_digit(model, c, per_class)
    print(f"make a digit ({per_class} per class, variety 1): " + ", ".join(f"{d}: {a:.1%}" for d, a in enumerate(acc))
          + f"; mean {np.mean(acc):.1%}, lowest {min(acc):.1%}")
    for prop, r in directions(model, c, mnist.test_images, n_move).items():
        others = ", ".join(f"{q} {v:+.2f}" for q, v in r["others_per_step_sd"].items())
        print(f"direction {prop:9s}: own {r['own_per_step_sd']:+.2f} sd per step, monotonic in "
              f"{r['monotonic']:.0%} of digits; others per step: {others}")
    test_likeness = c.likeness(c.test_bounds, c.test_typicality)
    odd = non_digits(n_odd)
    for kind, pics in odd.items():
        b, t, like = concepts.score(model, torch.from_numpy(np.stack(pics)), c)
        print(f"recognition, {kind:8s} (n={len(pics)} of {n_odd}, the rest refused at upload): AUROC "
              f"{auroc(test_likeness, like):.3f} (bound alone {auroc(c.test_bounds, b):.3f}); median percentile "
              f"{np.median([c.percentile(*v) for v in zip(b, t)]):.2f}%")
    b, t, like = concepts.score(model, torch.from_numpy(np.stack([p for v in odd.values() for p in v])), c)
    print(f"recognition, all non-digits (n={len(like)}): AUROC {auroc(test_likeness, like):.3f} "
          f"(bound alone {auroc(c.test_bounds, b):.3f}, code typicality alone {auroc(c.test_typicality, t):.3f}; "
          f"typicality weight {c.typicality_weight:g})")
    if args.save:
        c.save(Path(args.model) / "concepts.safetensors")
        print(f"saved {Path(args.model) / 'concepts.safetensors'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
