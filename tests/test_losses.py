"""The ELBO's pieces checked against independent computations."""

import math

import pytest
import torch

from vae_core import losses
from vae_core.evaluate import evaluate, importance_weighted
from vae_core.model import VAE, ModelConfig


def test_closed_form_kl_matches_monte_carlo():
    g = torch.Generator().manual_seed(0)
    mu = torch.randn(4, 3, generator=g)
    logvar = torch.randn(4, 3, generator=g) * 0.5
    z = mu + torch.exp(0.5 * logvar) * torch.randn(200_000, 4, 3, generator=g)
    mc = (losses.log_normal(z, mu, logvar) - losses.log_standard_normal(z)).mean(0)
    assert torch.allclose(losses.kl_divergence(mu, logvar), mc, atol=0.02)


def test_kl_against_the_general_two_gaussian_formula():
    mu, logvar = torch.tensor([[0.3, -1.2]]), torch.tensor([[0.4, -0.7]])
    sq, sp = torch.exp(0.5 * logvar), 1.0
    # KL(q || p) = log(sp / sq) + (sq^2 + (mq - mp)^2) / (2 sp^2) - 1/2
    general = (math.log(sp) - torch.log(sq) + (sq**2 + mu**2) / (2 * sp**2) - 0.5).sum(1)
    assert torch.allclose(losses.kl_divergence(mu, logvar), general, atol=1e-6)
    assert torch.allclose(losses.kl_per_dim(torch.zeros(1, 2), torch.zeros(1, 2)), torch.zeros(1, 2))


def test_gradients_reach_mu_and_logvar_through_reparameterize():
    mu = torch.zeros(5, 2, requires_grad=True)
    logvar = torch.zeros(5, 2, requires_grad=True)
    VAE.reparameterize(mu, logvar).pow(2).sum().backward()
    assert mu.grad is not None and mu.grad.abs().sum() > 0
    assert logvar.grad is not None and logvar.grad.abs().sum() > 0


def test_reductions_and_their_parts():
    out, x = torch.randn(3, 1, 28, 28), torch.rand(3, 1, 28, 28).round()
    mu, logvar = torch.randn(3, 4), torch.randn(3, 4)
    s = losses.elbo_terms(out, x, mu, logvar, "bernoulli", 2.0, "sum")
    assert torch.allclose(s.loss, s.reconstruction + 2.0 * s.kl)
    assert torch.allclose(s.kl_per_dim.sum(), s.kl)
    b = losses.elbo_terms(out, x, mu, logvar, "bernoulli", 2.0, "batch-sum")
    assert torch.allclose(b.loss, 3 * s.loss)
    m = losses.elbo_terms(out, x, mu, logvar, "gaussian", 0.1, "mean")
    expected = torch.nn.functional.mse_loss(out, x) + 0.1 * (-0.5 * torch.mean(1 + logvar - mu**2 - logvar.exp()))
    assert torch.allclose(m.loss, expected)


def test_importance_weighted_bound_is_above_the_elbo_and_rises_with_k():
    torch.manual_seed(0)
    model = VAE(ModelConfig(latent_dim=4, width=8)).eval()
    with torch.no_grad():  # a posterior far narrower than the truth: a real gap for k to close
        model.encoder[-1].bias[4:] = -3.0
        model.decoder[0].weight.mul_(20)
    x = torch.rand(16, 1, 28, 28).round()
    means = {}
    for k in (1, 10, 100):
        runs = [importance_weighted(model, x, k) for _ in range(4)]
        means[k] = torch.stack([r[0] for r in runs]).mean().item()
        elbo = torch.stack([r[1] for r in runs]).mean().item()
        assert means[k] >= elbo - 0.5  # k = 1 equals the ELBO in expectation
    assert means[1] <= means[10] <= means[100]
    assert means[100] - means[1] > 0.1


def test_the_bound_in_bf16_tracks_fp32():
    # evaluate --precision bf16 runs the network in bfloat16 and every sum in fp32.
    torch.manual_seed(0)
    model = VAE(ModelConfig(latent_dim=4, width=8)).eval()
    x = torch.rand(8, 1, 28, 28).round()
    runs = {}
    for bf16 in (False, True):
        torch.manual_seed(1)
        runs[bf16] = importance_weighted(model, x, 200, bf16=bf16)
    (fp_bound, fp_elbo), (bf_bound, bf_elbo) = runs[False], runs[True]
    assert bf_bound.dtype == torch.float32 and bf_elbo.dtype == torch.float32
    assert not torch.equal(bf_bound, fp_bound)  # the bf16 path did run
    assert torch.allclose(bf_bound, fp_bound, rtol=2e-4)
    assert torch.allclose(bf_elbo, fp_elbo, rtol=2e-4)
    with pytest.raises(ValueError, match="precision"):
        evaluate(model, torch.zeros(2, 28, 28, dtype=torch.uint8), k=2, precision="fp16")


def test_the_training_bound_is_the_evaluation_estimate_of_the_same_codes():
    # Training with k codes per image (TrainConfig.samples) minimises exactly what evaluate.py estimates with
    # k importance samples; the same seed draws the same codes in both.
    torch.manual_seed(0)
    model = VAE(ModelConfig(latent_dim=4, width=8)).eval()
    x = torch.rand(8, 1, 28, 28).round()
    with torch.no_grad():
        torch.manual_seed(1)
        out, mu, logvar, z = model.forward_samples_native(x, 10)
        terms = losses.importance_weighted_terms(out, x, mu, logvar, z)
        torch.manual_seed(1)
        estimate, elbo = importance_weighted(model, x, 10)
    assert out.shape == (80, 1, 28, 28) and z.shape == (8, 10, 4)
    assert torch.allclose(terms.loss, -estimate.mean(), rtol=1e-5)
    # Its parts: the reconstruction averaged over the codes, the exact KL; together the ELBO, in expectation.
    assert torch.allclose(-(terms.reconstruction + terms.kl), elbo.mean(), rtol=1e-5)
    assert torch.allclose(terms.kl, losses.kl_divergence(mu, logvar).mean())


def test_the_importance_weighted_loss_at_one_code_is_the_elbo_with_a_sampled_kl_and_beta_weighs_the_ratio():
    g = torch.Generator().manual_seed(0)
    out, x = torch.randn(6, 1, 28, 28, generator=g), torch.rand(6, 1, 28, 28, generator=g).round()
    mu, logvar = torch.randn(3, 4, generator=g), torch.randn(3, 4, generator=g) * 0.3
    z = mu.unsqueeze(1) + torch.exp(0.5 * logvar).unsqueeze(1) * torch.randn(3, 2, 4, generator=g)
    log_px = losses.bernoulli_log_likelihood(out, x[[0, 0, 1, 1, 2, 2]]).view(3, 2)
    log_ratio = losses.log_standard_normal(z) - losses.log_normal(z, mu.unsqueeze(1), logvar.unsqueeze(1))
    for beta in (0.0, 1.0, 4.0):
        terms = losses.importance_weighted_terms(out, x[[0, 1, 2]], mu, logvar, z, beta)
        expected = -(torch.logsumexp(log_px + beta * log_ratio, 1) - math.log(2)).mean()
        assert torch.allclose(terms.loss, expected, rtol=1e-6)
    one = losses.importance_weighted_terms(out[0::2], x[[0, 1, 2]], mu, logvar, z[:, :1])
    assert torch.allclose(one.loss, -(log_px[:, 0] + log_ratio[:, 0]).mean(), rtol=1e-6)


def _iwae_gradients(model, x, k, dreg):
    torch.manual_seed(1)  # the same codes for both estimators
    model.zero_grad()
    out, mu, logvar, z = model.forward_samples_native(x, k)
    terms = losses.importance_weighted_terms(out, x, mu, logvar, z, dreg=dreg)
    terms.loss.backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters()}
    return terms.loss.detach(), grads


def test_the_doubly_reparameterised_gradient_has_the_plain_one_s_expectation_and_leaves_the_decoder_s_alone():
    # 4,000 copies of two digits in one batch: the mean gradient is the average of 4,000 independent draws.
    torch.manual_seed(0)
    model = VAE(ModelConfig(arch="mlp", latent_dim=2, width=16))
    x = torch.rand(2, 1, 28, 28).round().repeat(2000, 1, 1, 1)
    loss, plain = _iwae_gradients(model, x, 4, dreg=False)
    loss_dreg, dreg = _iwae_gradients(model, x, 4, dreg=True)
    assert torch.equal(loss, loss_dreg)
    for name in plain:
        if name.startswith("decoder."):
            assert torch.allclose(plain[name], dreg[name], rtol=1e-5, atol=1e-6), name
        else:  # the encoder's: the same in expectation, by another estimator
            a, b = plain[name].flatten(), dreg[name].flatten()
            assert (a - b).norm() < 0.1 * a.norm(), name
            assert not torch.allclose(a, b), name


def test_kl_warmup_ramps_linearly():
    assert losses.kl_warmup(2.0, 0.5, 2.0) == 0.5
    assert losses.kl_warmup(2.0, 5.0, 2.0) == 2.0
    assert losses.kl_warmup(2.0, 0.0, 0.0) == 2.0


def test_loss_terms_are_fp32_when_the_network_ran_in_bf16():
    # Under CUDA's bf16 autocast the network hands over bf16 logits, mu and logvar; the sums must not be bf16.
    torch.manual_seed(0)
    out, mu, logvar = torch.randn(8, 1, 28, 28), torch.randn(8, 32), torch.randn(8, 32) * 0.5
    x = (torch.rand(8, 1, 28, 28) > 0.5).float()
    full = losses.elbo_terms(out, x, mu, logvar)
    half = losses.elbo_terms(out.bfloat16(), x, mu.bfloat16(), logvar.bfloat16())
    assert half.loss.dtype == half.kl.dtype == torch.float32
    assert torch.allclose(half.loss, full.loss, rtol=1e-2)
