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

from bench.common import markdown_table, mean_sd
from bench.real_300w import declared_grid_main
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
                io=mean_sd(io), ip=mean_sd([runs[s]["nme_ip"] for s in seeds]),
                diff=(f"{mean_sd(paired)} (each: {', '.join(f'{v:+.2f}' for v in paired)})"
                      if attention else ""),
                minutes=mean_sd([runs[s]["train_minutes"] for s in seeds])))
    table = markdown_table(rows, [
        ("cell", "backbone"), ("seeds", "seeds"), ("each", "NME(IO) % per seed"),
        ("io", "NME inter-ocular % (mean ± sd)"), ("ip", "NME inter-pupil %"),
        ("diff", "attention on minus off, same seed (mean ± sd; each seed)"),
        ("minutes", "training minutes")])
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
    declared_grid_main(
        argv, tool="backbone_real_300w", doc=__doc__, specs=specs,
        results_markdown=results_markdown, default_iters=DEFAULT_ITERS,
        runs_dir="backbone_real", declared=dict(backbones=list(BACKBONES), seeds=list(SEEDS)))


if __name__ == "__main__":
    main()
