"""Every preset builds, runs forward and backward, and keeps the public contract's shapes."""

import pytest
import torch

from vae_core import PRESETS, VAE, ModelConfig
from vae_core.losses import elbo_terms


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_runs_forward_and_backward(name):
    torch.manual_seed(0)
    preset = PRESETS[name]
    model = VAE(preset.model)
    x = torch.rand(6, 1, 28, 28)
    x_native = model.preprocess(x)
    out, mu, logvar = model.forward_native(x_native)
    assert out.shape == x_native.shape
    assert mu.shape == logvar.shape == (6, preset.model.latent_dim)
    terms = elbo_terms(out, x_native, mu, logvar, model.likelihood, preset.train.beta, preset.train.reduction)
    terms.loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_public_contract_shapes(name):
    model = VAE(PRESETS[name].model).eval()
    x = torch.rand(3, 1, 28, 28)
    mu, logvar = model.encode(x)
    assert mu.shape == logvar.shape == (3, model.latent_dim)
    out = model.decode(mu)
    assert out.shape == (3, 1, 28, 28)
    recon, mu2, _ = model(x)
    assert recon.shape == (3, 1, 28, 28) and torch.equal(mu, mu2)
    samples = model.sample(4)
    assert samples.shape == (4, 1, 28, 28) and samples.min() >= 0 and samples.max() <= 1


def test_seed_conv_is_recipe_a_layer_for_layer():
    model = VAE(PRESETS["seed-conv"].model)
    convs = [m for m in model.encoder if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size, c.stride, c.padding) for c in convs] == [
        (1, 32, (4, 4), (2, 2), (1, 1)), (32, 64, (4, 4), (2, 2), (1, 1)), (64, 128, (4, 4), (2, 2), (1, 1))]
    assert model.encoder[-1].in_features == 2048 and model.encoder[-1].out_features == 256
    assert model.decoder[0].in_features == 128 and isinstance(model.decoder[-1], torch.nn.Tanh)
    x = model.preprocess(torch.ones(1, 1, 28, 28))
    assert x.shape == (1, 1, 32, 32) and torch.allclose(x, torch.ones_like(x))  # white maps to +1
    preset = PRESETS["seed-conv"].train
    assert (preset.batch_size, preset.lr, preset.epochs, preset.beta, preset.reduction) == (64, 1e-4, 10, 0.1, "mean")


@pytest.mark.parametrize("latent_dim", [1, 129])
def test_bad_configs_are_refused(latent_dim):
    with pytest.raises(ValueError, match="latent_dim"):
        VAE(ModelConfig(latent_dim=latent_dim))
    with pytest.raises(ValueError, match="arch"):
        VAE(ModelConfig(arch="transformer"))
