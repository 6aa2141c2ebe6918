"""Test figures of a trained model: ELBO and its parts, importance-weighted NLL, active units, KL per dim.

The importance-weighted estimate (Burda et al. 2015) with k samples z_i ~ q(z|x):
    log p(x) ~ logsumexp_i [log p(x|z_i) + log p(z_i) - log q(z_i|x)] - log k
is a lower bound on log p(x) that rises toward it as k grows; k = 1 is the ELBO in expectation.
All figures are per image, in nats, on the fixed-seed binarised MNIST test set.

A Gaussian-decoder model (recipe A) has no Bernoulli likelihood of its own: it is read as one, with its
mean image (clamped to [1e-4, 1 - 1e-4]) as the pixel probabilities, so that its nats compare.

    python -m vae_core.evaluate checkpoints/mnist-z32 --k 1000
"""

from __future__ import annotations

import argparse
import math
import sys
import time

import torch

from . import checkpoints, data, hub
from .losses import bernoulli_log_likelihood, kl_per_dim, log_normal, log_standard_normal
from .model import VAE
from .train import pick_device

ACTIVE_UNIT_THRESHOLD = 0.01  # Burda et al. 2015: a unit is active if Var_x(E_q[z_j]) > 0.01
GAUSSIAN_AS_BERNOULLI_CLAMP = 1e-4
PRECISIONS = ("fp32", "bf16")


def bernoulli_logits(model: VAE, z: torch.Tensor) -> torch.Tensor:
    """The model's decoder as Bernoulli logits (N, 1, 28, 28), whatever its likelihood."""
    out = model.decode(z)
    if model.likelihood == "bernoulli":
        return out
    p = out.clamp(GAUSSIAN_AS_BERNOULLI_CLAMP, 1 - GAUSSIAN_AS_BERNOULLI_CLAMP)
    return torch.log(p) - torch.log1p(-p)


@torch.no_grad()
def importance_weighted(model: VAE, x: torch.Tensor, k: int, chunk: int = 8192, bf16: bool = False,
                        q: tuple[torch.Tensor, torch.Tensor] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(log p(x) estimate with k samples, k-sample mean of the ELBO), each (N,), for binary images x.

    The proposal is the encoder's q(z|x), or `q` = (mu, logvar) given per image (any proposal gives an
    estimate of the same log p(x); benchmarks/inference_gap.py measures how much a better one gains).

    With bf16 the network runs in bfloat16 (2.5-3.4x faster on a CPU with AMX) and everything else in
    fp32: q's parameters are rounded, but the same rounded q both draws z and weighs it, so the estimate
    stays an importance-sampling estimate of the same log p(x); only the decoder's logits carry rounding.
    """
    if q is None:
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
            q = model.encode(x)
    mu, logvar = q[0].float(), q[1].float()
    n = len(x)
    per_image = max(1, chunk // k) if k <= chunk else 1
    log_w_all, rec_all = [], []
    for start in range(0, n, per_image):
        m, lv, xb = mu[start:start + per_image], logvar[start:start + per_image], x[start:start + per_image]
        b = len(m)
        log_w = torch.empty(b, k, device=x.device)
        for s in range(0, k, chunk):  # samples in chunks, so that k = 5000 fits in memory
            kk = min(chunk, k - s)
            z = m.unsqueeze(1) + torch.exp(0.5 * lv).unsqueeze(1) * torch.randn(b, kk, m.shape[1], device=x.device)
            with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
                logits = bernoulli_logits(model, z.reshape(b * kk, -1))
            logits = logits.float()
            target = xb.unsqueeze(1).expand(b, kk, *xb.shape[1:]).reshape(b * kk, *xb.shape[1:])
            log_px = bernoulli_log_likelihood(logits, target).view(b, kk)
            log_w[:, s:s + kk] = log_px + log_standard_normal(z) - log_normal(z, m.unsqueeze(1), lv.unsqueeze(1))
            rec_all.append((s, start, log_px))
        log_w_all.append(torch.logsumexp(log_w, dim=1) - math.log(k))
    log_px_mean = torch.zeros(n, device=x.device)
    for _, start, log_px in rec_all:
        log_px_mean[start:start + len(log_px)] += log_px.sum(1) / k
    elbo = log_px_mean - kl_per_dim(mu, logvar).sum(1)
    return torch.cat(log_w_all), elbo


@torch.no_grad()
def evaluate(model: VAE, images: torch.Tensor, k: int = 1000, batch_size: int = 500, seed: int = 0,
             device: str | torch.device = "cpu", precision: str = "fp32") -> dict:
    """Every test figure, per image and in nats, from uint8 test images (N, 28, 28).

    precision "bf16" runs the importance-sampled bound's network in bfloat16 (see importance_weighted);
    the other figures are always fp32.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    t0 = time.perf_counter()
    torch.manual_seed(seed)
    # channels_last lets oneDNN (CPU) and cuDNN pick faster convolution kernels: ~15% here on a 2-core CPU.
    model = model.to(device, memory_format=torch.channels_last).eval()
    x_bin = data.binarized_test_set(images).to(device)
    x_grey = data.to_float(images).to(device)
    log_px, elbo, mus, kls, sq_err, rec_mu = [], [], [], [], 0.0, 0.0
    for start in range(0, len(x_bin), batch_size):
        xb, xg = x_bin[start:start + batch_size], x_grey[start:start + batch_size]
        lp, el = importance_weighted(model, xb, k, bf16=precision == "bf16")
        log_px.append(lp)
        elbo.append(el)
        mu, logvar = model.encode(xb)
        mus.append(mu)
        kls.append(kl_per_dim(mu, logvar))
        logits = bernoulli_logits(model, mu)
        rec_mu -= bernoulli_log_likelihood(logits, xb).sum().item()
        mean_grey = model.mean_image(model.decode(model.encode(xg)[0]))
        sq_err += (mean_grey - xg).pow(2).mean(dim=(1, 2, 3)).sum().item()
    n = len(x_bin)
    log_px, elbo, mus, kls = torch.cat(log_px), torch.cat(elbo), torch.cat(mus), torch.cat(kls)
    kl_dims = kls.mean(0)
    active = mus.var(0) > ACTIVE_UNIT_THRESHOLD
    return {
        "nll": -log_px.mean().item(),
        "nll_stderr": (log_px.std() / math.sqrt(n)).item(),
        "k": k,
        "neg_elbo": -elbo.mean().item(),
        "kl": kl_dims.sum().item(),  # the rate
        "reconstruction": -(elbo.mean() + kl_dims.sum()).item(),  # the distortion: E_q[-log p(x|z)]
        "reconstruction_at_mean": rec_mu / n,  # -log p(x | z = mu)
        "mse": sq_err / n,  # squared error per pixel of the greyscale image's reconstruction
        "active_units": int(active.sum()),
        "latent_dim": model.latent_dim,
        "kl_per_dim": [round(v, 5) for v in kl_dims.tolist()],
        "mu_variance_per_dim": [round(v, 5) for v in mus.var(0).tolist()],
        "images": n,
        "seconds": round(time.perf_counter() - t0, 2),
        "device": str(device),
        "precision": precision,
        "test_set": f"MNIST test, binarised with seed {data.TEST_BINARIZATION_SEED}",
    }


def format_table(name: str, m: dict) -> str:
    rows = [
        ("test NLL (IW, k=%d)" % m["k"], f"{m['nll']:.2f} ± {m['nll_stderr']:.2f} nats"),
        ("-ELBO", f"{m['neg_elbo']:.2f} nats"),
        ("reconstruction (distortion)", f"{m['reconstruction']:.2f} nats"),
        ("KL (rate)", f"{m['kl']:.2f} nats"),
        ("mse per pixel", f"{m['mse']:.4f}"),
        ("active units", f"{m['active_units']} / {m['latent_dim']}"),
        ("test images", f"{m['images']}"),
        ("time", f"{m['seconds']:.1f} s on {m['device']}" + (" in bf16" if m.get("precision") == "bf16" else "")),
    ]
    width = max(len(r[0]) for r in rows)
    return "\n".join([name] + [f"  {a.ljust(width)}  {b}" for a, b in rows])


@torch.no_grad()
def rate_and_distortion(model: VAE, images: torch.Tensor, seed: int = 0) -> dict:
    """Fast rate (mean KL) and distortion (one-sample -log p(x|z)) on binarised test images, per image."""
    x = data.binarized_test_set(images)
    with torch.random.fork_rng(devices=[]):  # a fixed eps, without touching anyone else's random stream
        torch.manual_seed(seed)
        mu, logvar = model.encode(x)
        z = model.reparameterize(mu, logvar)
    distortion = -bernoulli_log_likelihood(bernoulli_logits(model, z), x).mean().item()
    return {"rate": kl_per_dim(mu, logvar).sum(1).mean().item(), "distortion": distortion, "images": len(x)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vae_core.evaluate", description="Test figures of a checkpoint.")
    parser.add_argument("checkpoint", help="checkpoint folder")
    parser.add_argument("--k", type=int, default=1000, help="importance samples per image (default 1000)")
    parser.add_argument("--limit", type=int, default=0, help="only the first N test images (0: all 10,000)")
    parser.add_argument("--batch-size", type=int, default=500, help="test images per batch")
    parser.add_argument("--device", default="auto", help="auto, cuda, mps or cpu")
    parser.add_argument("--dataset", default=None, help="the test images of mnist, fashion-mnist or a folder "
                        "(default: the dataset the model was trained on)")
    parser.add_argument("--data-dir", default=None, help="folder with the dataset's IDX files (else $VAE_DATA_DIR for "
                        "MNIST, $VAE_FASHION_DIR for Fashion-MNIST, else ./data)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the importance samples")
    parser.add_argument("--precision", choices=PRECISIONS, default="fp32",
                        help="the bound's network in fp32 (default) or bfloat16: 2.5-3.4x faster on a CPU with "
                        "AMX, within 0.01 nats of fp32 in RESULTS.md's check")
    parser.add_argument("--no-write", action="store_true", help="print only; leave metrics.json as it is")
    args = parser.parse_args(argv)
    if args.k < 1:
        parser.error("--k must be at least 1")
    try:
        device = pick_device(args.device)
        model = hub.load_model(args.checkpoint, device)
        dataset = args.dataset or checkpoints.read_config(args.checkpoint).get("dataset", "mnist")
        images = data.load_dataset(dataset, args.data_dir).test_images
    except (checkpoints.CheckpointError, data.DataError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.limit:
        images = images[:args.limit]
    metrics = evaluate(model, images, k=args.k, batch_size=args.batch_size, seed=args.seed, device=device,
                       precision=args.precision)
    title = data.DATASETS[dataset].title if dataset in data.DATASETS else f"{dataset} (its test split)"
    metrics["test_set"] = f"{title} test, binarised with seed {data.TEST_BINARIZATION_SEED}"
    metrics["command"] = "python -m vae_core.evaluate " + " ".join(argv if argv is not None else sys.argv[1:])
    print(format_table(args.checkpoint, metrics))
    if not args.no_write:
        checkpoints.update_metrics(args.checkpoint, {"test": metrics})
        print(f"written to {args.checkpoint}/metrics.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
