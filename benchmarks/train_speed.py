"""Training throughput: our trainer against recipe A fed the tutorial way, in one process, alternating.

    python -m benchmarks.train_speed --device cpu --seconds 120 [--pythae] [--smoke]

Three contestants share the wall-clock budget in alternating rounds, so that a machine that speeds up
or slows down during the run affects all of them alike:
  reference   recipe A as tutorials write it: torchvision's MNIST dataset with Resize(32), ToTensor and
              Normalize, a DataLoader (batch 64, shuffle, 4 workers), the seed-conv network, Adam 1e-4,
              mse + 0.1 * mean KL, one .item() per step;
  seed-conv   the same network and loss through our trainer (data resident on the device, batches by slicing);
  ours        the default preset through our trainer;
  ours-bf16   the same in bf16 autocast (with --bf16), as the main model's importance-weighted run trains;
  pythae      with --pythae: the default preset's network through pythae's own trainer (the library a
              user would pick instead; benchmarks/pythae_peer.py, requirements-bench.txt).
The gap between reference and seed-conv is the data path; between seed-conv and ours, the model.
The last line: speedup X.XX (ours N img/s, reference M img/s, device D).
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from vae_core import PRESETS, data
from vae_core.config import replace
from vae_core.model import VAE
from vae_core.train import pick_device, train

from . import pythae_peer

WARMUP_STEPS = 5  # steps left out of every measurement: allocation, autotuning, worker start-up


def torchvision_root(mnist_dir: Path, tmp: Path) -> Path:
    """The layout torchvision's MNIST class reads (ROOT/MNIST/raw/*-ubyte), made from our data folder."""
    raw = tmp / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name in data.FILES.values():
        plain, packed = mnist_dir / name, mnist_dir / f"{name}.gz"
        if plain.exists():
            shutil.copy(plain, raw / name)
        else:
            with gzip.open(packed, "rb") as src, open(raw / name, "wb") as dst:
                shutil.copyfileobj(src, dst)
    return tmp


def reference_round(root: Path, device: torch.device, seconds: float, state: dict, workers: int) -> float:
    """Recipe A the tutorial way for `seconds`; returns images per second after the warm-up steps."""
    from torchvision import datasets, transforms

    if "loader" not in state:
        tf = transforms.Compose([transforms.Resize(32), transforms.ToTensor(), transforms.Normalize([0.5], [0.5])])
        ds = datasets.MNIST(root=str(root), train=True, download=False, transform=tf)
        state["loader"] = torch.utils.data.DataLoader(ds, batch_size=64, shuffle=True, num_workers=workers,
                                                      persistent_workers=workers > 0)
        torch.manual_seed(0)
        state["model"] = VAE(PRESETS["seed-conv"].model).to(device).train()
        state["opt"] = torch.optim.Adam(state["model"].parameters(), lr=1e-4)
        state["iter"] = iter(state["loader"])
    model, opt = state["model"], state["opt"]
    steps, images, t0 = 0, 0, None
    end = time.perf_counter() + seconds
    while time.perf_counter() < end or steps <= 2 * WARMUP_STEPS:
        try:
            x, _ = next(state["iter"])
        except StopIteration:
            state["iter"] = iter(state["loader"])
            continue
        x = x.to(device)
        recon, mu, logvar = model.forward_native(x)
        loss = F.mse_loss(recon, x) + 0.1 * (-0.5 * torch.mean(1 + logvar - mu.pow(2) - logvar.exp()))
        opt.zero_grad()
        loss.backward()
        opt.step()
        loss.item()  # the tutorial's running-loss print waits for the device every step
        steps += 1
        if steps == WARMUP_STEPS:
            t0 = time.perf_counter()
        elif steps > WARMUP_STEPS:
            images += len(x)
    return images / (time.perf_counter() - t0) if t0 and images else 0.0


def trainer_round(preset: str, mnist: data.MNIST, device: torch.device, seconds: float, limit: int,
                  precision: str = "auto") -> float:
    """Our trainer on a preset for `seconds` (stopped through its cancel event); images per second."""
    p = PRESETS[preset]
    cfg = replace(p.train, device=device.type, epochs=1000, val_size=0, train_limit=limit, precision=precision)
    if device.type == "cuda" and p.cuda_batch_size:
        cfg = replace(cfg, batch_size=p.cuda_batch_size)
    cancel, marks = threading.Event(), []

    def on_step(progress):
        if progress.kind != "step":
            return
        marks.append((time.perf_counter(), progress.step))
        if marks[-1][0] - marks[0][0] > seconds and len(marks) > 2 * WARMUP_STEPS:
            cancel.set()
    train(p.model, cfg, mnist, callback=on_step, cancel=cancel)
    if len(marks) <= WARMUP_STEPS + 1:
        return 0.0
    (t0, s0), (t1, s1) = marks[WARMUP_STEPS], marks[-1]
    return (s1 - s0) * cfg.batch_size / (t1 - t0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.train_speed", description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", help="cpu, cuda or auto")
    parser.add_argument("--seconds", type=float, default=120, help="total wall-clock budget, all contestants")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds")
    parser.add_argument("--workers", type=int, default=4, help="DataLoader workers of the reference (the tutorial's 4)")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--pythae", action="store_true", help="pythae's trainer as a fourth contestant")
    parser.add_argument("--bf16", action="store_true", help="our trainer in bf16 autocast as one more contestant")
    parser.add_argument("--smoke", action="store_true", help="a few seconds on tiny sizes, to check the script runs")
    args = parser.parse_args(argv)
    device = pick_device(args.device)
    mnist = data.load_mnist(args.data_dir)
    seconds, rounds, workers, limit = args.seconds, args.rounds, args.workers, 0
    if args.smoke:
        seconds, rounds, workers, limit = 6, 1, 0, 2000
    rates: dict[str, list[float]] = {"reference": [], "seed-conv": [], "ours": []}
    if args.bf16:
        rates["ours-bf16"] = []
    peer = None
    if args.pythae:
        missing = pythae_peer.available()
        if missing:
            print(f"pythae cannot run here: {missing}")
        else:
            default = PRESETS["default"]
            batch = default.cuda_batch_size if device.type == "cuda" else default.train.batch_size
            peer = pythae_peer.Peer(mnist, device, default.train.lr, batch, limit=limit)
            rates["pythae"] = []
    per = seconds / (len(rates) * rounds)
    with tempfile.TemporaryDirectory() as tmp:
        root = torchvision_root(data.resolve_data_dir(args.data_dir), Path(tmp))
        state: dict = {}
        for r in range(rounds):
            rates["reference"].append(reference_round(root, device, per, state, workers))
            rates["seed-conv"].append(trainer_round("seed-conv", mnist, device, per, limit))
            rates["ours"].append(trainer_round("default", mnist, device, per, limit))
            if args.bf16:
                rates["ours-bf16"].append(trainer_round("default", mnist, device, per, limit, precision="bf16"))
            if peer:
                rates["pythae"].append(pythae_peer.timed_round(peer, per, WARMUP_STEPS))
            print(f"round {r + 1}/{rounds}: " + ", ".join(f"{k} {v[-1]:.0f} img/s" for k, v in rates.items()), flush=True)
    print(f"\ndevice {device} ({torch.get_num_threads()} threads), {rounds} rounds of {per:.1f} s each")
    for name, values in rates.items():
        print(f"  {name:10s} median {statistics.median(values):8.0f} img/s  (min {min(values):.0f}, max {max(values):.0f})")
    ours, ref = statistics.median(rates["ours"]), statistics.median(rates["reference"])
    print(f"data path alone (seed-conv through our trainer / reference): "
          f"{statistics.median(rates['seed-conv']) / max(ref, 1e-9):.2f}x")
    if peer:
        print(f"pythae's trainer on the same network: ours is {ours / max(statistics.median(rates['pythae']), 1e-9):.2f}x")
    if args.bf16:
        print(f"ours in bf16 against the reference: {statistics.median(rates['ours-bf16']) / max(ref, 1e-9):.2f}x")
    print(f"speedup {ours / max(ref, 1e-9):.2f} (ours {ours:.0f} img/s, reference {ref:.0f} img/s, device {device.type})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
