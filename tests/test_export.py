"""A decoder exported to ONNX draws what PyTorch draws (checked with onnx's own reference runtime)."""

import pytest
import torch

from vae_core import VAE, ModelConfig, latent
from vae_core.export import export_decoder

onnx_reference = pytest.importorskip("onnx.reference")


@pytest.mark.parametrize("cfg", [ModelConfig(latent_dim=2, width=8, encoder_blocks=1, decoder_blocks_14x14=1),
                                 ModelConfig(arch="mlp", latent_dim=3, width=16),
                                 ModelConfig(arch="seed-conv", latent_dim=4, likelihood="gaussian")],
                         ids=["conv", "mlp", "seed-conv"])
def test_the_exported_decoder_draws_what_pytorch_draws(tmp_path, cfg):
    torch.manual_seed(0)
    model = VAE(cfg).eval()
    path = export_decoder(model, tmp_path / "decoder.onnx")
    z = torch.randn(5, cfg.latent_dim)
    drawn = onnx_reference.ReferenceEvaluator(str(path)).run(None, {"z": z.numpy()})[0]
    assert drawn.shape == (5, 1, 28, 28)
    assert abs(drawn - latent.decode_images(model, z).numpy()).max() < 1e-4
    assert not list(tmp_path.glob(".*tmp*"))  # written to a temporary name, then renamed
