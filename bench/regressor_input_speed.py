"""CPU inference speed of the paper config's AAN with globally pooled regressor inputs (the
old default) against the flattened ones (the current default), in one process, interleaved.

Eager, channels-last, 2 threads, batch-32 throughput (best of --reps) and batch-1 latency;
inference parameters (branches excluded). Complements bench/cpu_speed.py, whose table was
measured with the old default.

    .venv/bin/python bench/regressor_input_speed.py
    .venv/bin/python bench/regressor_input_speed.py --tiny      # smoke run (CI)
"""

from __future__ import annotations

import argparse
import copy
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, environment, markdown_table, write_json  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
HEADS = {"gap (old default)": dict(final_input="gap", branch_input="gap", feature_sizes=None),
         "flatten (current default)": {}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS / "regressor_input_speed.json")
    parser.add_argument("--tiny", action="store_true")
    args = parser.parse_args()
    if args.tiny:
        args.batch, args.reps = 2, 1
        args.out = Path(tempfile.mkdtemp()) / "regressor_input_speed_tiny.json"
    torch.set_num_threads(args.threads)
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS

    import aan_components.plugin  # noqa: F401

    init_default_scope("mmpose")
    cfg = Config.fromfile(str(REPO / "mm_configs" / "aan_300w.py"))
    size = cfg.codec.input_size
    models = {}
    for name, head in HEADS.items():
        c = copy.deepcopy(cfg)
        c.model.head.update(head)
        models[name] = MODELS.build(c.model).eval().to(memory_format=torch.channels_last)
    x = torch.randn(args.batch, 3, size[1], size[0]).contiguous(
        memory_format=torch.channels_last)
    x1 = x[:1].contiguous(memory_format=torch.channels_last)
    best = {n: (0.0, float("inf")) for n in models}
    with torch.no_grad():
        for m in models.values():
            m.head(m.extract_feat(x1))  # warm-up
        for _ in range(args.reps):
            for name, m in models.items():
                t = time.perf_counter()
                m.head(m.extract_feat(x))
                ips = args.batch / (time.perf_counter() - t)
                t = time.perf_counter()
                for _ in range(10):
                    m.head(m.extract_feat(x1))
                ms = (time.perf_counter() - t) * 100
                best[name] = (max(best[name][0], ips), min(best[name][1], ms))
    def params(m) -> float:
        return sum(p.numel() for k, p in m.named_parameters() if "branches" not in k) / 1e6

    rows = [dict(model=name, ips=f"{ips:.1f}", ms=f"{ms:.1f}", params=f"{params(models[name]):.2f}")
            for name, (ips, ms) in best.items()]
    table = markdown_table(rows, [("model", "AAN (aan_300w.py), regressor input"),
                                  ("ips", f"images/s (batch {args.batch})"),
                                  ("ms", "batch-1 ms"), ("params", "params (M)")])
    print(table)
    write_json(args.out, dict(benchmark="regressor_input_speed", args={
        k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        environment=environment(), rows=rows, table=table))


if __name__ == "__main__":
    main()
