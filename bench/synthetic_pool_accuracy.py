"""Does the pool of augmented faces (mm_configs/aan_synthetic_pool.py) lose variety that the
demo's accuracy can detect? The demo trained on faces rendered on the fly
(mm_configs/aan_synthetic.py) against the same model trained on a pool rendered once and
augmented per draw, with the same iterations, batch and seeds (no wall-clock cap), tested
on the demo's 500 test faces.

    nice -n 10 .venv/bin/python bench/synthetic_pool_accuracy.py --iters 400 --seeds 0 1
    .venv/bin/python bench/synthetic_pool_accuracy.py --tiny     # smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, environment, markdown_table, write_json  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CONFIGS = {"on the fly (aan_synthetic.py)": "aan_synthetic.py",
           "pool + batch augment (aan_synthetic_pool.py)": "aan_synthetic_pool.py"}


def train_once(config: str, seed: int, iters: int, pool: int, work: Path) -> dict:
    opts = [f"train_cfg.max_iters={iters}", f"train_cfg.val_interval={iters}",
            f"default_hooks.checkpoint.interval={iters}", f"randomness.seed={seed}",
            "custom_hooks.1.max_seconds=None",  # the demo's wall-clock cap: off
            f"param_scheduler.0.end={iters}",
            f"param_scheduler.0.milestones=[{int(iters * 0.75)},{int(iters * 0.9)}]"]
    if "pool" in config:
        opts.append(f"train_dataloader.dataset.dataset.num_samples={pool}")
    proc = subprocess.run(
        [sys.executable, "-m", "mim", "train", "mmpose", str(REPO / "mm_configs" / config),
         "--work-dir", str(work), "--cfg-options", *opts],
        capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    if proc.returncode != 0:
        raise SystemExit(f"{config} seed {seed} failed:\n{proc.stdout[-3000:]}"
                         f"{proc.stderr[-3000:]}")
    rows = [json.loads(line) for log in sorted(work.glob("*/vis_data/scalars.json"))
            for line in log.read_text().splitlines()]
    metrics = [r for r in rows if "NME" in r][-1]
    times = [r["time"] for r in rows if "time" in r and "loss" in r]
    return dict(nme=metrics["NME"], auc=metrics.get("AUC@0.1"),
                iter_s=float(np.mean(times)) if times else None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iters", type=int, default=400)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--pool", type=int, default=4000, help="faces in the pool")
    parser.add_argument("--out", type=Path, default=RESULTS / "synthetic_pool_accuracy.json")
    parser.add_argument("--tiny", action="store_true")
    args = parser.parse_args()
    if args.tiny:
        args.iters, args.seeds, args.pool = 2, [0], 8
        args.out = Path(tempfile.mkdtemp()) / "synthetic_pool_accuracy_tiny.json"
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            for name, config in CONFIGS.items():
                result = train_once(config, seed, args.iters, args.pool,
                                    Path(tmp) / f"{config}_{seed}")
                runs.append(dict(data=name, seed=seed, **result))
                print(f"[bench] {name} seed {seed}: NME {result['nme']:.4f}", flush=True)
    rows = []
    for name in CONFIGS:
        nme = np.array([r["nme"] for r in runs if r["data"] == name])
        sd = nme.std(ddof=1) if len(nme) > 1 else 0.0
        rows.append(dict(data=name, nme=f"{nme.mean():.4f} ± {sd:.4f}",
                         seeds=", ".join(str(r["seed"]) for r in runs if r["data"] == name),
                         each=", ".join(f"{v:.4f}" for v in nme)))
    table = markdown_table(rows, [("data", "training data"), ("nme", "test NME (mean ± sd)"),
                                  ("each", "per seed"), ("seeds", "seeds")])
    print(f"\n{args.iters} iterations x batch 32, pool {args.pool} faces\n\n{table}")
    write_json(args.out, dict(benchmark="synthetic_pool_accuracy", args={
        k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        environment=environment(), runs=runs, table=table))


if __name__ == "__main__":
    main()
