"""latent.py: interpolation, PCA, UMAP and the 2-D manifold."""

import numpy as np
import pytest
import torch

from vae_core import VAE, ModelConfig, latent


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return VAE(ModelConfig(latent_dim=6, width=8)).eval()


def test_interpolation_ends_decode_to_the_ends_reconstructions(model):
    x = torch.rand(2, 1, 28, 28)
    mu, _ = model.encode(x)
    for mode in ("linear", "spherical"):
        path = latent.interpolate(mu[0], mu[1], 7, mode)
        frames = latent.decode_images(model, path)
        assert path.shape == (7, 6)
        assert torch.allclose(frames[0], latent.decode_images(model, mu[:1])[0], atol=1e-5)
        assert torch.allclose(frames[-1], latent.decode_images(model, mu[1:])[0], atol=1e-5)


def test_spherical_steps_keep_their_norm():
    z0 = torch.tensor([3.0, 0.0, 0.0])
    z1 = torch.tensor([0.0, 3.0, 0.0])
    path = latent.interpolate(z0, z1, 9, "spherical")
    assert torch.allclose(path.norm(dim=1), torch.full((9,), 3.0), atol=1e-5)
    linear = latent.interpolate(z0, z1, 9, "linear")
    assert linear.norm(dim=1)[4] < 2.2  # the straight line cuts through the low-norm middle
    b = torch.tensor([1.0, 1.0, 0.0])
    norms = latent.interpolate(z0, b, 5, "spherical").norm(dim=1)
    assert torch.allclose(norms, torch.linspace(3.0, float(b.norm()), 5), atol=1e-5)  # norm moves linearly


def test_interpolate_refuses_bad_arguments():
    with pytest.raises(ValueError, match="steps"):
        latent.interpolate(torch.zeros(2), torch.ones(2), 1)
    with pytest.raises(ValueError, match="mode"):
        latent.interpolate(torch.zeros(2), torch.ones(2), 4, "zigzag")


def test_pca_projects_onto_the_largest_variance():
    rng = np.random.default_rng(0)
    codes = rng.normal(size=(500, 5)).astype(np.float32) * np.array([5, 1, 0.1, 0.1, 0.1], dtype=np.float32)
    proj, comps, mean, ratio = latent.pca(codes)
    assert proj.shape == (500, 2) and abs(abs(comps[0, 0]) - 1) < 0.01 and ratio[0] > 0.9


def test_real_umap_runs_on_a_small_set_in_a_process_of_its_own():
    codes = np.random.default_rng(0).normal(size=(120, 4)).astype(np.float32)
    emb = latent.umap_apart(codes)  # what the app runs (umap_embed, in a child process)
    assert emb.shape == (120, 2) and np.isfinite(emb).all()


def test_manifold_of_a_2d_model():
    m = VAE(ModelConfig(latent_dim=2, width=8)).eval()
    mosaic, axis = latent.manifold(m, n=5, extent=2.0)
    assert mosaic.shape == (140, 140) and mosaic.dtype == np.uint8
    step = axis[1] - axis[0]  # five tiles, each 0.8 wide, cover [-2, 2] edge to edge
    assert axis[0] - step / 2 == pytest.approx(-2.0) and axis[-1] + step / 2 == pytest.approx(2.0)
    with pytest.raises(ValueError):
        latent.manifold(VAE(ModelConfig(latent_dim=3, width=8)), n=3)
