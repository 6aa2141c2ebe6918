"""Every preset builds, runs forward and backward, and keeps the public contract's shapes."""

import pytest
import torch

from vae_core import PRESETS, VAE, ModelConfig
from vae_core.losses import elbo_terms
from vae_core.model import ResBlock


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


def test_a_grown_decoder_starts_as_the_model_it_grew_from_and_then_learns():
    torch.manual_seed(0)
    small = VAE(ModelConfig(latent_dim=8, width=8)).eval()
    big = VAE(ModelConfig(latent_dim=8, width=8, encoder_blocks=2, decoder_blocks_7x7=3, decoder_blocks_14x14=2))
    big.load_from(small)
    big.eval()
    z, x = torch.randn(5, 8), torch.rand(5, 1, 28, 28)
    assert torch.equal(big.decode(z), small.decode(z))
    assert torch.equal(big.encode(x)[0], small.encode(x)[0])
    # The added blocks are real layers: one step of training moves every one of them.
    big.train()
    opt = torch.optim.Adam(big.parameters(), lr=1e-3)
    out, mu, logvar = big.forward_native(torch.bernoulli(x))
    elbo_terms(out, torch.bernoulli(x), mu, logvar, "bernoulli", 1.0, "sum").loss.backward()
    opt.step()
    added = [m for m in big.encoder if isinstance(m, ResBlock)] + [m for m in big.decoder if isinstance(m, ResBlock)][1:]
    assert len(added) == 6 and all(m.conv2.weight.abs().sum() > 0 for m in added)
    assert not torch.equal(big.eval().decode(z), small.decode(z))


def test_the_default_blocks_keep_the_layer_names_of_the_models_shipped_before_them():
    names = list(VAE(ModelConfig()).state_dict())
    assert [n for n in names if n.startswith("encoder.")] == [
        "encoder.0.weight", "encoder.0.bias", "encoder.2.weight", "encoder.2.bias", "encoder.5.weight", "encoder.5.bias"]
    assert [n for n in names if n.startswith("decoder.")] == [
        "decoder.0.weight", "decoder.0.bias", "decoder.3.conv1.weight", "decoder.3.conv1.bias",
        "decoder.3.conv2.weight", "decoder.3.conv2.bias", "decoder.5.weight", "decoder.5.bias",
        "decoder.7.weight", "decoder.7.bias"]


@pytest.mark.parametrize("change, message", [
    (dict(width=16), "only added residual blocks"),  # another width: nothing to copy
    (dict(decoder_blocks_7x7=1, encoder_blocks=3), "only added residual blocks"),  # fewer decoder blocks
])
def test_a_model_grows_only_by_added_blocks(change, message):
    source = VAE(ModelConfig(latent_dim=8, width=8, decoder_blocks_7x7=2))
    target = VAE(ModelConfig(**{**dict(latent_dim=8, width=8, decoder_blocks_7x7=2), **change}))
    with pytest.raises(ValueError, match=message):
        target.load_from(source)


@pytest.mark.parametrize("config, message", [
    (dict(decoder_blocks_7x7=0), "decoder_blocks_7x7 must be between 1 and 8, not 0"),
    (dict(decoder_blocks_14x14=9), "decoder_blocks_14x14 must be between 0 and 8, not 9"),
    (dict(encoder_blocks=-1), "encoder_blocks must be between 0 and 8, not -1"),
    (dict(arch="mlp", width=64, decoder_blocks_14x14=1), "residual blocks are the conv architecture's"),
])
def test_bad_block_counts_are_refused(config, message):
    with pytest.raises(ValueError, match=message):
        VAE(ModelConfig(**config))
