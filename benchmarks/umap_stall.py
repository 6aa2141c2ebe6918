"""How long a thread that must answer is kept waiting while a UMAP runs beside it in the same program.

    python -m benchmarks.umap_stall [--codes 10000]

A ticker thread sleeps 10 ms at a time and records how late it wakes, while the main thread makes the UMAP of
random 32-number codes, first in-process (latent.umap_embed, as the app did in a background thread), then in
a process of its own (latent.umap_apart, as the app does now). A server's request thread waits like the ticker.
"""

from __future__ import annotations

import argparse
import threading
import time

import numpy as np

from vae_core import latent


def delays(embed, codes: np.ndarray) -> tuple[float, np.ndarray]:
    """Seconds the UMAP took, and the ticker's delays past its 10 ms, in ms."""
    late, done = [], threading.Event()

    def tick():
        last = time.perf_counter()
        while not done.is_set():
            time.sleep(0.01)
            now = time.perf_counter()
            late.append((now - last - 0.01) * 1000)
            last = now

    ticker = threading.Thread(target=tick)
    ticker.start()
    start = time.perf_counter()
    embed(codes)
    seconds = time.perf_counter() - start
    done.set()
    ticker.join()
    return seconds, np.array(late)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.umap_stall", description=__doc__.splitlines()[0])
    parser.add_argument("--codes", type=int, default=10000)
    args = parser.parse_args(argv)
    codes = np.random.default_rng(0).normal(size=(args.codes, 32)).astype(np.float32)
    for name, embed in (("in-process (umap_embed)", latent.umap_embed), ("apart (umap_apart)", latent.umap_apart)):
        seconds, late = delays(embed, codes)
        print(f"{name}: UMAP of {args.codes:,} codes in {seconds:.1f} s; the ticker woke late by "
              f"p50 {np.median(late):.1f} ms, p99 {np.percentile(late, 99):.1f} ms, at most {late.max():.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
