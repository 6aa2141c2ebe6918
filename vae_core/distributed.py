"""Training on several processes or machines (torchrun), the field's way: DistributedDataParallel, gloo on
CPU and NCCL on CUDA, every rank its own slice of each global batch, gradients averaged, only rank 0
reporting and writing checkpoints, the ranks' weights checked identical at the end.

The loop (train.py) asks here who it is and how many there are; outside torchrun it is rank 0 of 1.
"""

from __future__ import annotations

import hashlib
import os
import sys

import torch

from .model import VAE


def world_size() -> int:
    """How many processes train together: torchrun's WORLD_SIZE, 1 in a plain run."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_lead() -> bool:
    """Whether this process speaks for all (torchrun's rank 0, or a plain run)."""
    return int(os.environ.get("RANK", "0")) == 0


def join() -> tuple[int, int]:
    """(rank, world size): under torchrun, after joining its process group; (0, 1) in a plain run."""
    world = world_size()
    if world <= 1:
        return 0, 1
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), world


class Native(torch.nn.Module):
    """The model's training forward as a module's forward, which is what DistributedDataParallel wraps."""

    def __init__(self, model: VAE, samples: int = 1):
        super().__init__()
        self.model, self.samples = model, samples

    def forward(self, x):
        if self.samples > 1:
            return self.model.forward_samples_native(x, self.samples)
        return self.model.forward_native(x)


def leave(finished: bool) -> None:
    """Leave torchrun's process group, if this process joined one. After a finished run every rank first
    waits for the others: gloo aborts a rank whose peer has left while it is still finishing a collective."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        if finished:
            dist.barrier()
        dist.destroy_process_group()


def exit_past_group(code: int) -> None:
    """End a process that trained in a process group without the interpreter's shutdown. DistributedDataParallel
    keeps the group, and so its worker threads, alive past destroy_process_group (torch 2.14), and a worker may
    still be releasing the last collective's tensors, which takes the GIL: during shutdown that aborts the process
    ('terminate called without an active exception'). Nothing is left to do at exit but to flush what was printed."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def all_mean(t: torch.Tensor, world: int) -> torch.Tensor:
    if world > 1:
        import torch.distributed as dist

        dist.all_reduce(t)
        t /= world
    return t


def check_replicas(model: VAE, world: int) -> str:
    """A digest of the weights, checked identical on every rank (they must be, after averaged steps)."""
    digest = hashlib.sha256(b"".join(v.detach().cpu().contiguous().numpy().tobytes()
                                     for v in model.state_dict().values())).hexdigest()[:16]
    if world > 1:
        import torch.distributed as dist

        digests: list = [None] * world
        dist.all_gather_object(digests, digest)
        if len(set(digests)) != 1:
            raise RuntimeError(f"the ranks' weights differ after training: {digests}")
    return digest
