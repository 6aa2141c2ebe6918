"""vae_core: data, the conv VAE, losses, training, evaluation, checkpoints and latent-space exploration.

    import vae_core
    model = vae_core.load_model("checkpoints/mnist-z32", device="cpu")
    mu, logvar = model.encode(images)   # images: float (N, 1, 28, 28) in [0, 1]
    logits = model.decode(mu)           # Bernoulli logits (N, 1, 28, 28)

Nothing here imports gradio.
"""

from .checkpoints import CheckpointError, list_checkpoints, save_checkpoint
from .hub import load_model
from .config import PRESETS, TrainConfig
from .data import DataError, load_mnist
from .model import VAE, ModelConfig

__all__ = ["VAE", "ModelConfig", "TrainConfig", "PRESETS", "load_model", "save_checkpoint",
           "list_checkpoints", "load_mnist", "CheckpointError", "DataError"]
