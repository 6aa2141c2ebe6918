"""explore.py: interpolation, maps, the UMAP cache, user images and the registry."""

import io

import numpy as np
import pytest
import torch
from PIL import Image

from vae_core import VAE, ModelConfig, explore, save_checkpoint


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return VAE(ModelConfig(latent_dim=6, width=8)).eval()


def test_interpolation_ends_decode_to_the_ends_reconstructions(model):
    x = torch.rand(2, 1, 28, 28)
    mu, _ = model.encode(x)
    for mode in ("linear", "spherical"):
        path = explore.interpolate(mu[0], mu[1], 7, mode)
        frames = explore.decode_images(model, path)
        assert path.shape == (7, 6)
        assert torch.allclose(frames[0], explore.decode_images(model, mu[:1])[0], atol=1e-5)
        assert torch.allclose(frames[-1], explore.decode_images(model, mu[1:])[0], atol=1e-5)


def test_spherical_steps_keep_their_norm():
    z0 = torch.tensor([3.0, 0.0, 0.0])
    z1 = torch.tensor([0.0, 3.0, 0.0])
    path = explore.interpolate(z0, z1, 9, "spherical")
    assert torch.allclose(path.norm(dim=1), torch.full((9,), 3.0), atol=1e-5)
    linear = explore.interpolate(z0, z1, 9, "linear")
    assert linear.norm(dim=1)[4] < 2.2  # the straight line cuts through the low-norm middle
    b = torch.tensor([1.0, 1.0, 0.0])
    norms = explore.interpolate(z0, b, 5, "spherical").norm(dim=1)
    assert torch.allclose(norms, torch.linspace(3.0, float(b.norm()), 5), atol=1e-5)  # norm moves linearly


def test_interpolate_refuses_bad_arguments():
    with pytest.raises(ValueError, match="steps"):
        explore.interpolate(torch.zeros(2), torch.ones(2), 1)
    with pytest.raises(ValueError, match="mode"):
        explore.interpolate(torch.zeros(2), torch.ones(2), 4, "zigzag")


def test_pca_projects_onto_the_largest_variance():
    rng = np.random.default_rng(0)
    codes = rng.normal(size=(500, 5)).astype(np.float32) * np.array([5, 1, 0.1, 0.1, 0.1], dtype=np.float32)
    proj, comps, mean, ratio = explore.pca(codes)
    assert proj.shape == (500, 2) and abs(abs(comps[0, 0]) - 1) < 0.01 and ratio[0] > 0.9


def test_umap_cache_is_reused_and_invalidated_when_the_model_changes(tmp_path, monkeypatch):
    calls = []

    def fake_umap(codes, seed=42):  # the real UMAP is exercised by the app tests; here only the cache
        calls.append(len(codes))
        return codes[:, :2] * 2
    monkeypatch.setattr(explore, "umap_embed", fake_umap)
    codes = np.random.default_rng(0).normal(size=(50, 4)).astype(np.float32)
    first = explore.cached_umap(codes, "model-a", tmp_path)
    again = explore.cached_umap(codes, "model-a", tmp_path)
    assert calls == [50] and np.array_equal(first, again)
    explore.cached_umap(codes, "model-b", tmp_path)  # new weights: recomputed
    explore.cached_umap(codes + 1, "model-a", tmp_path)  # other codes: recomputed
    assert calls == [50, 50, 50]
    for f in tmp_path.glob("umap-model-a-*.npy"):
        f.write_bytes(b"garbage")  # a damaged cache file is recomputed
    explore.cached_umap(codes, "model-a", tmp_path)
    assert len(calls) == 4


def test_real_umap_runs_on_a_small_set():
    codes = np.random.default_rng(0).normal(size=(120, 4)).astype(np.float32)
    emb = explore.umap_embed(codes)
    assert emb.shape == (120, 2) and np.isfinite(emb).all()


def test_registry_embeds_once_and_adds_models(tmp_path, model):
    shipped, user = tmp_path / "shipped", tmp_path / "user"
    save_checkpoint(shipped / "a", model, {"beta": 1.0})
    reg = explore.Registry(shipped, user, tmp_path / "cache")
    assert reg.names() == ["a"]
    images = (torch.rand(30, 28, 28) * 255).to(torch.uint8)
    emb = reg.embedding("a", images)
    assert emb.mu.shape == (30, 6) and emb.pca.shape == (30, 2) and emb.kl_per_dim.shape == (6,)
    assert reg.embedding("a", images) is emb
    save_checkpoint(user / "b", model, {"beta": 2.0})
    assert reg.add(user / "b") == "b" and reg.names() == ["a", "b"]
    with pytest.raises(KeyError):
        reg.model("nope")


def test_manifold_of_a_2d_model():
    m = VAE(ModelConfig(latent_dim=2, width=8)).eval()
    mosaic, axis = explore.manifold(m, n=5, extent=2.0)
    assert mosaic.shape == (140, 140) and mosaic.dtype == np.uint8
    step = axis[1] - axis[0]  # five tiles, each 0.8 wide, cover [-2, 2] edge to edge
    assert axis[0] - step / 2 == pytest.approx(-2.0) and axis[-1] + step / 2 == pytest.approx(2.0)
    with pytest.raises(ValueError):
        explore.manifold(VAE(ModelConfig(latent_dim=3, width=8)), n=3)


def _drawn_digit(size=280, background=255, ink=0, rgba=False):
    a = np.full((size, size), background, dtype=np.uint8)
    a[size // 5: size * 4 // 5, size // 2 - size // 20: size // 2 + size // 20] = ink  # a "1"
    if rgba:
        alpha = np.where(a == ink, 255, 0).astype(np.uint8)
        return np.dstack([a, a, a, alpha])
    return a


@pytest.mark.parametrize("image", [
    _drawn_digit(),  # dark ink on white paper
    _drawn_digit(background=0, ink=255),  # MNIST-like already
    _drawn_digit(rgba=True),  # a sketchpad: dark strokes on a transparent canvas
    np.dstack([_drawn_digit()] * 3),  # colour
])
def test_user_images_become_mnist_like(image):
    x = explore.prepare_user_image(image)
    assert x.shape == (28, 28) and x.min() >= 0 and x.max() <= 1
    ys, xs = np.nonzero(x > 0.2)
    assert 16 <= ys.max() - ys.min() + 1 <= 21  # fits the 20-pixel box, like MNIST
    com = (np.indices(x.shape) * x).sum(axis=(1, 2)) / x.sum()
    assert np.allclose(com, 13.5, atol=1.0)  # centre of mass in the middle
    assert x[0].max() == 0 and x[:, 0].max() == 0  # white on black


@pytest.mark.parametrize("image, message", [
    (None, "No image"),
    (np.full((100, 100), 255, dtype=np.uint8), "No digit"),
    (np.zeros((100, 100, 4), dtype=np.uint8), "empty"),
    (np.zeros((5000, 10), dtype=np.uint8), "limit"),
    (np.zeros((3, 3, 7), dtype=np.uint8), "Not an image"),
])
def test_bad_user_images_get_clear_messages(image, message):
    with pytest.raises(ValueError, match=message):
        explore.prepare_user_image(image)


def test_uploaded_files_are_opened_as_images_only(tmp_path):
    good = tmp_path / "digit.png"
    Image.fromarray(_drawn_digit()).save(good)
    assert explore.load_image_file(good).size == (280, 280)
    fake = tmp_path / "model.png"
    fake.write_bytes(b"\x80\x04\x95 this is a pickle, not a picture")
    with pytest.raises(ValueError, match="not an image"):
        explore.load_image_file(fake)


def test_png_and_gif_bytes():
    frames = [np.full((10, 10), i * 20, dtype=np.uint8) for i in range(4)]
    gif = Image.open(io.BytesIO(explore.gif_bytes(frames)))
    assert gif.format == "GIF" and gif.n_frames == 6  # forward then back
    assert Image.open(io.BytesIO(explore.png_bytes(frames[0]))).size == (10, 10)
    g = explore.grid(torch.rand(5, 1, 28, 28), ncols=3, factor=2)
    assert g.shape == (2 * (2 * 30 + 2), 2 * (3 * 30 + 2))
