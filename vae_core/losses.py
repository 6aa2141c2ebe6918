"""The pieces of the negative ELBO, as pure functions of tensors.

    -ELBO = E_q[-log p(x|z)] + KL(q(z|x) || p(z))      (Kingma & Welling 2013)
    loss  = reconstruction + beta * KL                  (the beta-VAE weighting)

Reductions (see config.py for the conversion between them):
  "sum"       per-image sums over pixels and latent dimensions, averaged over the batch (ours);
  "mean"      means over every element, as recipe A computes mse_loss and its KL;
  "batch-sum" sums over the whole batch, as recipe B (pytorch/examples) does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class LossTerms:
    """The loss and its parts, per image (reconstruction, kl) and per latent dimension (kl_per_dim)."""

    loss: torch.Tensor  # what the optimiser minimises, under the chosen reduction
    reconstruction: torch.Tensor  # mean over the batch of the per-image reconstruction loss
    kl: torch.Tensor  # mean over the batch of the per-image KL, summed over dimensions
    kl_per_dim: torch.Tensor  # (latent_dim,) mean over the batch


def kl_per_dim(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, sigma^2) || N(0, 1)) = 0.5 * (mu^2 + sigma^2 - log sigma^2 - 1), per element, in fp32."""
    mu, logvar = mu.float(), logvar.float()
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1)


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Per-image KL to the standard normal prior, summed over latent dimensions: shape (N,)."""
    return kl_per_dim(mu, logvar).sum(dim=1)


def reconstruction_per_pixel(out: torch.Tensor, x: torch.Tensor, likelihood: str) -> torch.Tensor:
    """-log p(x|z) up to constants, per pixel: BCE with logits (Bernoulli) or squared error (Gaussian)."""
    if likelihood == "bernoulli":
        return F.binary_cross_entropy_with_logits(out.float(), x, reduction="none")
    return (out.float() - x).pow(2)


def bernoulli_log_likelihood(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """log p(x|z) of binary images under Bernoulli(logits), summed over pixels: shape (N,)."""
    return -F.binary_cross_entropy_with_logits(logits.float(), x, reduction="none").flatten(1).sum(1)


def log_normal(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z; mu, diag exp(logvar)), summed over the last dimension."""
    return -0.5 * (math.log(2 * math.pi) + logvar + (z - mu).pow(2) * torch.exp(-logvar)).sum(-1)


def log_standard_normal(z: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I), summed over the last dimension."""
    return -0.5 * (math.log(2 * math.pi) + z.pow(2)).sum(-1)


def elbo_terms(out: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
               likelihood: str = "bernoulli", beta: float = 1.0, reduction: str = "sum") -> LossTerms:
    """The loss and its parts for one batch; `out` is the decoder's output in the network's own space."""
    rec_pix = reconstruction_per_pixel(out, x, likelihood)
    kl_el = kl_per_dim(mu, logvar)
    rec_img = rec_pix.flatten(1).sum(1)
    kl_img = kl_el.sum(1)
    if reduction == "sum":
        loss = (rec_img + beta * kl_img).mean()
    elif reduction == "mean":
        loss = rec_pix.mean() + beta * kl_el.mean()
    elif reduction == "batch-sum":
        loss = rec_img.sum() + beta * kl_img.sum()
    else:
        raise ValueError(f"unknown reduction {reduction!r}")
    return LossTerms(loss=loss, reconstruction=rec_img.mean(), kl=kl_img.mean(), kl_per_dim=kl_el.mean(0))


def importance_weighted_terms(out: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
                              z: torch.Tensor, beta: float = 1.0, dreg: bool = False) -> LossTerms:
    """The k-sample importance-weighted bound (Burda et al. 2015) as a loss, for a Bernoulli decoder.

    z (N, k, L) are k codes drawn from q(z|x) for each image and `out` (N * k, ...) their logits. With
    log w = log p(x|z) + beta * (log p(z) - log q(z|x)), the loss is -mean over images of
    log (1/k sum w): at beta = 1 a lower bound on log p(x) that tightens as k grows, at k = 1 the ELBO.
    The reported reconstruction is -log p(x|z) averaged over the k codes, the KL the exact one.

    dreg: the same loss, but the encoder's gradient by the doubly reparameterised estimator (Tucker et al.
    2018): sum_i w~_i^2 d(log w_i)/dz_i dz_i/dphi with w~ the normalised weights, q's own parameters held
    fixed inside log q. It has the same expectation and, unlike the plain estimator, a signal that does
    not fade as k grows (Rainforth et al. 2018). The decoder's gradient is unchanged. z must be the
    tensor the codes were decoded from, so that its gradient can be reweighted.
    """
    n, k = z.shape[:2]
    target = x.unsqueeze(1).expand(n, k, *x.shape[1:]).reshape(n * k, *x.shape[1:])
    log_px = bernoulli_log_likelihood(out, target).view(n, k)
    mu, logvar, zf = mu.float(), logvar.float(), z.float()
    q_mu, q_logvar = (mu.detach(), logvar.detach()) if dreg else (mu, logvar)
    log_w = log_px + beta * (log_standard_normal(zf) - log_normal(zf, q_mu.unsqueeze(1), q_logvar.unsqueeze(1)))
    if dreg and z.requires_grad:
        # d(-bound)/dz_i = -w~_i d(log w_i)/dz_i; one more w~_i on its way to the encoder makes it w~_i^2.
        weights = torch.softmax(log_w.detach(), dim=1).unsqueeze(-1)
        z.register_hook(lambda grad: grad * weights.to(grad.dtype))
    bound = torch.logsumexp(log_w, dim=1) - math.log(k)
    kl_el = kl_per_dim(mu, logvar)
    return LossTerms(loss=-bound.mean(), reconstruction=-log_px.mean(), kl=kl_el.sum(1).mean(),
                     kl_per_dim=kl_el.mean(0))


def kl_warmup(beta: float, epoch_progress: float, warmup_epochs: float) -> float:
    """beta ramped linearly from 0 over the first `warmup_epochs` epochs (Bowman et al. 2016)."""
    if warmup_epochs <= 0:
        return beta
    return beta * min(1.0, epoch_progress / warmup_epochs)
