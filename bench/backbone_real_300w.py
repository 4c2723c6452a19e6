"""Attention inside timm stages, on real faces: two timm backbones x attention in-stage on
and off x 2 seeds, trained on the 300W training faces a user has and tested on the common
subset (554 faces), at an equal budget, the AAN head on each.

Every run is `mim train mmpose mm_configs/aan_timm-resnet18_300w_cpu.py` (the paper's
recipe at CPU size, no augmentation, the CPU switch; AAN's head with global average pooling
on each of four maps at strides 4-32) with ``--cfg-options`` for the backbone
(``model.backbone.model_name``), attention (``model.backbone.attention``: on, each gated map
``(1 + M) * H`` feeds the next stage; off, ``F = H``), the budget (``--iters``, lr x0.1 at
60% and 85%) and the fair start of ``bench.table5_real_300w`` (regressors at the mean shape,
the embedding's bandwidth from the first batch), so both arms start on equal terms. From
scratch (no ImageNet weights), like the paper's own backbone. The grid is declared here
before it runs; ``--resume`` keeps finished runs; JSON is rewritten after every run.

    python -m bench.backbone_real_300w --300w-root data/300w --resume --parallel 2
    python -m bench.backbone_real_300w --summarise bench/results/backbone_real_300w.json
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from bench.common import RESULTS, environment, markdown_table, write_json, write_markdown
from bench.real_300w import REPO, _machine, run_grid
from bench.table5_real_300w import STARTS, budget_options

CONFIG = "aan_timm-resnet18_300w_cpu.py"
BACKBONES = ("resnet18", "regnetx_002")
SEEDS = (0, 1)  # declared before the runs
DEFAULT_ITERS = 1000


def specs(iters: int) -> list[dict]:
    """One run spec per (backbone, attention, seed), seeds outermost so that an interrupted
    grid has every cell's first seed."""
    out = []
    for seed in SEEDS:
        for backbone in BACKBONES:
            for attention in (True, False):
                arm = f"{backbone}_{'attention' if attention else 'no-attention'}"
                out.append(dict(
                    arm=arm, backbone=backbone, attention=attention, seed=seed,
                    label=f"{backbone}, attention {'in-stage' if attention else 'off'}",
                    config=CONFIG,
                    options=[f"model.backbone.model_name={backbone}",
                             f"model.backbone.attention={attention}",
                             *STARTS["fair"], *budget_options(iters)]))
    return out


def _stat(values: list[float]) -> str:
    if len(values) < 2:
        return f"{values[0]:.2f}" if values else ""
    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}"


def results_markdown(payload: dict) -> str:
    """Each backbone with and without attention, every seed, and attention's effect seed by
    seed (on minus off: negative means attention helped)."""
    cells: dict[tuple[str, bool], dict[int, dict]] = {}
    for r in payload.get("runs", []):
        cells.setdefault((r["backbone"], r["attention"]), {})[r["seed"]] = r
    rows = []
    for backbone in BACKBONES:
        off = cells.get((backbone, False), {})
        for attention in (True, False):
            runs = cells.get((backbone, attention))
            if not runs:
                continue
            seeds = sorted(runs)
            io = [runs[s]["nme_io"] for s in seeds]
            paired = [runs[s]["nme_io"] - off[s]["nme_io"] for s in seeds if s in off]
            rows.append(dict(
                cell=f"{backbone}, attention {'in-stage' if attention else 'off'}",
                seeds=", ".join(map(str, seeds)), each=", ".join(f"{v:.2f}" for v in io),
                io=_stat(io), ip=_stat([runs[s]["nme_ip"] for s in seeds]),
                diff=_stat(paired) if attention else "",
                minutes=_stat([runs[s]["train_minutes"] for s in seeds])))
    table = markdown_table(rows, [
        ("cell", "backbone"), ("seeds", "seeds"), ("each", "NME(IO) % per seed"),
        ("io", "NME inter-ocular % (mean ± sd)"), ("ip", "NME inter-pupil %"),
        ("diff", "attention on minus off, same seed"), ("minutes", "training minutes")])
    if "iters" not in payload:
        return table
    return "\n\n".join([
        f"300W common (554 faces), trained on the 1,675 training faces present; every run "
        f"{payload['iters']} iterations of batch {payload['batch']} from scratch "
        f"({CONFIG}: 128 px, no augmentation, lr x0.1 at 60% and 85%), fair start "
        f"`{' '.join(STARTS['fair'])}`.", table,
        f"Command: `python -m bench.backbone_real_300w --300w-root DIR --iters "
        f"{payload['iters']} --resume --parallel 2`: two runs at a time, one thread each "
        f"(or `--parallel 1 --alongside 1` beside another grid, the same). "
        f"{payload.get('machine', '')}."])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--300w-root", dest="root", type=Path)
    parser.add_argument("--iters", type=int, default=DEFAULT_ITERS,
                        help="iterations of every run (batch 32)")
    parser.add_argument("--runs-dir", type=Path, default=REPO / "work_dirs" / "backbone_real")
    parser.add_argument("--out", type=Path, default=RESULTS / "backbone_real_300w.json")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--parallel", type=int, default=1)
    parser.add_argument("--alongside", type=int, default=0, metavar="N",
                        help="training runs of another grid sharing the machine meanwhile "
                             "(each run then gets one thread; recorded with the runs)")
    parser.add_argument("--summarise", type=Path, default=None, metavar="JSON")
    args = parser.parse_args(argv)
    if args.summarise:
        write_markdown(args.summarise, "backbone_real_300w", results_markdown)
        return
    if args.root is None:
        parser.error("--300w-root is required (a folder made by `aan convert 300w`)")
    payload = json.loads(args.out.read_text()) if args.resume and args.out.exists() else {}
    if payload and payload.get("iters") != args.iters:
        parser.error(f"{args.out} holds runs of {payload.get('iters')} iterations; resume "
                     f"with --iters {payload.get('iters')} or write to another --out")
    payload.update(benchmark="backbone_real_300w", machine=_machine(), iters=args.iters,
                   batch=32, backbones=list(BACKBONES), seeds=list(SEEDS),
                   protocol=__doc__.split("\n\n", 1)[1].split("\n\n    python")[0])
    payload.setdefault("environment", environment())
    runs = payload.setdefault("runs", [])
    done = {(r["arm"], r["seed"]) for r in runs}

    def record(row: dict) -> None:
        runs.append(row)
        write_json(args.out, payload, "backbone_real_300w", results_markdown)
        print(f"[backbone_real_300w] {row['arm']} seed {row['seed']}: NME(IO) "
              f"{row['nme_io']:.2f}", flush=True)

    todo = [s for s in specs(args.iters) if (s["arm"], s["seed"]) not in done]
    run_grid(todo, args.root.resolve(), args.runs_dir, args.parallel, record, args.alongside)
    print(results_markdown(payload))


if __name__ == "__main__":
    main()
