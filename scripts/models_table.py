"""Print the README's table of shipped models from their config.json and metrics.json.

    python scripts/models_table.py [checkpoints]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vae_core.checkpoints import list_checkpoints  # noqa: E402
from vae_core.data import DATASETS  # noqa: E402


def main() -> None:
    root = sys.argv[1] if len(sys.argv) > 1 else "checkpoints"
    print("| model | data | latent | β | test NLL (k, test images) | -ELBO | KL (rate) | active units | trained | size |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for c in list_checkpoints(root):
        cfg, m = c["config"], c["metrics"]
        t, tr = m.get("test", {}), m.get("training", {})
        size = sum(f.stat().st_size for f in Path(c["path"]).iterdir()) / 2**20
        nll = f"{t['nll']:.2f} ({t['k']}, {t['images']})" if t else "not evaluated"
        elbo = f"{t['neg_elbo']:.2f}" if t else ""
        kl = f"{t['kl']:.2f}" if t else ""
        au = f"{t['active_units']}/{t['latent_dim']}" if t else ""
        runs = [tr]  # fine-tuned: the runs it started from, oldest first, then its own
        while runs[0].get("init_from_training"):
            runs.insert(0, runs[0]["init_from_training"])
        trained = (" + ".join(str(r.get("epochs", "?")) for r in runs) + " epochs, "
                   + " + ".join(f"{r.get('seconds', 0) / 60:.0f}" for r in runs) + f" min, {tr.get('device', '?')}")
        beta = f"{cfg.get('beta', 1):g}"
        if cfg.get("beta_per_image_sum", cfg.get("beta", 1)) != cfg.get("beta", 1):
            beta += f" (= {cfg['beta_per_image_sum']:g} per image)"
        dataset = cfg.get("dataset", "mnist")
        title = DATASETS[dataset].title if dataset in DATASETS else Path(dataset).name
        print(f"| {c['name']} | {title} | {cfg['latent_dim']} | {beta} | {nll} | {elbo} | {kl} | {au} | "
              f"{trained} | {size:.1f} MiB |")


if __name__ == "__main__":
    main()
