"""Rewrite checkpoints' weights in float16, half the bytes, for models that are only served (the shipped beta
ladder and 2-D model, so that checkpoints/ stays within 25 MiB). Their test figures are dropped; evaluate them again.

    python scripts/halve_weights.py checkpoints/mnist-z32-beta0.1 [more folders]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vae_core.checkpoints import WEIGHTS, CheckpointError, halve_weights  # noqa: E402


def main() -> None:
    for folder in sys.argv[1:]:
        before = (Path(folder) / WEIGHTS).stat().st_size
        try:
            record = halve_weights(folder)
        except CheckpointError as e:
            sys.exit(f"not halved: {e}")
        after = (Path(folder) / WEIGHTS).stat().st_size
        print(f"{folder}: {before:,} -> {after:,} bytes, largest change of a weight {record.get('largest_change', 0):.2g}")


if __name__ == "__main__":
    main()
