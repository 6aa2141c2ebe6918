"""registry.py: the models a program shows, their test-set codes, memos and the UMAP disk cache."""

import numpy as np
import pytest
import torch

from vae_core import VAE, ModelConfig, registry, save_checkpoint


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return VAE(ModelConfig(latent_dim=6, width=8)).eval()


def test_umap_cache_is_reused_and_invalidated_when_the_model_changes(tmp_path, monkeypatch):
    calls = []

    def fake_umap(codes, seed=42):  # the real UMAP is exercised by the app tests; here only the cache
        calls.append(len(codes))
        return codes[:, :2] * 2
    monkeypatch.setattr(registry, "umap_apart", fake_umap)
    codes = np.random.default_rng(0).normal(size=(50, 4)).astype(np.float32)
    first = registry.cached_umap(codes, "model-a", tmp_path)
    again = registry.cached_umap(codes, "model-a", tmp_path)
    assert calls == [50] and np.array_equal(first, again)
    registry.cached_umap(codes, "model-b", tmp_path)  # new weights: recomputed
    registry.cached_umap(codes + 1, "model-a", tmp_path)  # other codes: recomputed
    assert calls == [50, 50, 50]
    for f in tmp_path.glob("umap-model-a-*.npy"):
        f.write_bytes(b"garbage")  # a damaged cache file is recomputed
    registry.cached_umap(codes, "model-a", tmp_path)
    assert len(calls) == 4


def test_registry_embeds_once_and_adds_models(tmp_path, model):
    shipped, user = tmp_path / "shipped", tmp_path / "user"
    save_checkpoint(shipped / "a", model, {"beta": 1.0})
    reg = registry.Registry(shipped, user, tmp_path / "cache")
    assert reg.names() == ["a"]
    images = (torch.rand(30, 28, 28) * 255).to(torch.uint8)
    emb = reg.embedding("a", images)
    assert emb.mu.shape == (30, 6) and emb.pca.shape == (30, 2) and emb.kl_per_dim.shape == (6,)
    assert reg.embedding("a", images) is emb
    save_checkpoint(user / "b", model, {"beta": 2.0})
    reg.add(user / "b")
    assert reg.names() == ["a", "b"] and not reg.entry("b").shipped
    with pytest.raises(KeyError):
        reg.model("nope")


def test_memo_computes_once_per_model_and_key(tmp_path, model):
    save_checkpoint(tmp_path / "a", model, {"beta": 1.0})
    save_checkpoint(tmp_path / "b", model, {"beta": 2.0})
    reg = registry.Registry(tmp_path, tmp_path / "none", tmp_path / "cache")
    calls = []

    def latent_size(m):
        calls.append(m)
        return m.latent_dim
    assert reg.memo("a", "size", latent_size) == reg.memo("a", "size", latent_size) == 6
    assert reg.memo("b", "size", latent_size) == 6
    assert len(calls) == 2 and calls[0] is reg.model("a") and calls[1] is reg.model("b")


def test_a_shipped_models_codes_and_figures_are_kept_on_disk_and_a_trained_ones_go_with_it(tmp_path, model,
                                                                                           monkeypatch):
    shipped, user, cache = tmp_path / "shipped", tmp_path / "user", tmp_path / "cache"
    save_checkpoint(shipped / "a", model, {"beta": 1.0})
    images = (torch.rand(30, 28, 28) * 255).to(torch.uint8)
    first = registry.Registry(shipped, user, cache)
    figure = first.shipped_figures("a", "size", images, lambda m: {"dims": m.latent_dim, "half": 0.5})
    mu = first.embedding("a", images).mu
    assert figure == {"dims": 6, "half": 0.5} and len(list(cache.glob("*.npz"))) == 2
    assert all(first.entry("a").digest in f.name for f in cache.glob("*.npz"))  # the model loaded first
    # A restart (another program sharing the folder) reads them back: no encoding, no computing.
    monkeypatch.setattr(registry, "encode_images", lambda *a: pytest.fail("encoded again"))
    again = registry.Registry(shipped, user, cache)
    assert np.array_equal(again.embedding("a", images).mu, mu)
    assert again.shipped_figures("a", "size", images, lambda m: pytest.fail("computed again")) == figure
    for f in cache.glob("codes-*.npz"):
        f.write_bytes(b"garbage")  # a damaged file is made again
    monkeypatch.undo()
    assert np.allclose(registry.Registry(shipped, user, cache).embedding("a", images).mu, mu)
    # A trained model's codes stay in memory only (visitors make new models all day), and what was kept of
    # it on disk (its UMAP, its decoder) goes when it does; the shipped model's stays.
    torch.manual_seed(1)
    save_checkpoint(user / "b", VAE(ModelConfig(latent_dim=6, width=8)).eval(), {"beta": 2.0})
    reg = registry.Registry(shipped, user, cache)
    reg.embedding("b", images)
    digest, kept = reg.entry("b").digest, sorted(cache.rglob("*"))
    assert digest != reg.entry("a").digest and not [f for f in kept if digest in f.name]
    (cache / "onnx").mkdir(exist_ok=True)
    for f in (cache / f"umap-{digest}-x.npy", cache / "onnx" / f"decoder-{digest}.onnx"):
        f.write_bytes(b"kept")
    reg.remove("b")
    assert sorted(cache.rglob("*")) == sorted({*kept, cache / "onnx"})
