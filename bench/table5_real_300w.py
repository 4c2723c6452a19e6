"""The paper's Table 5 on real faces: AAN, w/o attention, w/o embedding, w/o both, trained on
the 300W training faces a user has and tested on the common subset (554 faces), at an equal
budget, several seeds per cell, with the variants starting on equal terms ("fair" start) and,
for AAN and w/o attention, as the paper's layers start ("paper" start).

Every run is `mim train mmpose mm_configs/aan_300w_cpu[_no-*].py` (the paper's recipe, no
augmentation, the CPU switch) with ``--cfg-options`` for the budget (``--iters``, lr x0.1 at
60% and 85%) and the start:

- ``fair``: every regressor (final head and branches) starts at the training mean shape
  (``model.head.output_init='mean_shape'``: output weights 0, bias the first batch's mean
  shape), and the cosine embedding's bandwidth is set from the first batch
  (``model.head.embedding_sigma='median'``: the median pairwise distance of its inputs), so
  with or without attention (which scales the maps the head reads by 1.5-2x) the embedding
  starts at the same relative width;
- ``paper``: the layers' own initialisation (output weights N(0, 0.01), bias 0.5 at the crop
  centre; embedding bandwidth sqrt(C / cells) from the shapes only).

Identical in every run: data, crops, loss (L2 at the EuclideanLoss scale on the final
prediction and each of the four branches, weights 1), Adam lr 1e-3 with coupled weight
decay 1e-3 (the paper's), batch 32, iterations. The grid is declared here before it runs;
``--resume`` keeps finished runs; JSON is rewritten after every run.

    python -m bench.table5_real_300w --300w-root data/300w --resume --parallel 2
    python -m bench.table5_real_300w --summarise bench/results/table5_real_300w.json
"""

from __future__ import annotations

from aan_core.evaluation.paper_results import TABLE5, TABLE5_LABELS, TABLE5_VARIANTS, table5_config
from bench.common import markdown_table, mean_sd
from bench.real_300w import declared_grid_main

VARIANTS = {  # name: (the paper's label, config, paper's Table 5 on AFLW, NME %)
    v: (TABLE5_LABELS[v], table5_config("300w", v, "_cpu"), TABLE5["aflw"][v])
    for v in TABLE5_VARIANTS}
STARTS = {
    "fair": ("model.head.output_init=mean_shape", "model.head.embedding_sigma=median"),
    "paper": (),
}
# (variant, start, seeds): declared before the runs
GRID = [(v, "fair", (0, 1, 2)) for v in VARIANTS] + \
       [(v, "paper", (0, 1, 2)) for v in ("aan", "no_attention")]
DEFAULT_ITERS = 1500  # 29 epochs; 18 runs in about 2 hours here, two at a time


def budget_options(iters: int) -> tuple[str, ...]:
    return (f"train_cfg.max_iters={iters}", f"train_cfg.val_interval={iters}",
            f"param_scheduler.0.end={iters}",
            f"param_scheduler.0.milestones=[{int(0.6 * iters)},{int(0.85 * iters)}]",
            f"default_hooks.checkpoint.interval={iters}")


def specs(iters: int) -> list[dict]:
    """One run spec per (variant, start, seed), seeds interleaved so that an interrupted
    grid has every cell's first seeds."""
    out = []
    for seed in range(max(len(s) for _, _, s in GRID)):
        for variant, start, seeds in GRID:
            if seed not in seeds:
                continue
            label, config, _ = VARIANTS[variant]
            out.append(dict(arm=f"{variant}_{start}", variant=variant, start=start,
                            label=f"{label}, {start} start", config=config, seed=seed,
                            options=[*STARTS[start], *budget_options(iters)]))
    return out


def results_markdown(payload: dict) -> str:
    """The Table 5 markdown (what ``--summarise`` writes): every cell with its seeds, and each
    variant's difference from AAN with the same start, seed by seed."""
    cells: dict[tuple[str, str], dict[int, dict]] = {}
    for r in payload.get("runs", []):
        cells.setdefault((r["variant"], r["start"]), {})[r["seed"]] = r
    rows = []
    for start in STARTS:
        base = cells.get(("aan", start), {})
        for variant, (label, _, paper) in VARIANTS.items():
            runs = cells.get((variant, start))
            if not runs:
                continue
            seeds = sorted(runs)
            io = [runs[s]["nme_io"] for s in seeds]
            paired = [runs[s]["nme_io"] - base[s]["nme_io"] for s in seeds if s in base]
            rows.append(dict(
                cell=f"{label} ({start} start)", seeds=", ".join(map(str, seeds)),
                each=", ".join(f"{v:.2f}" for v in io), io=mean_sd(io),
                ip=mean_sd([runs[s]["nme_ip"] for s in seeds]),
                diff="" if variant == "aan" else mean_sd(paired),
                paper=f"{paper:.2f}"))
    table = markdown_table(rows, [
        ("cell", "variant"), ("seeds", "seeds"), ("each", "NME(IO) % per seed"),
        ("io", "NME inter-ocular % (mean ± sd)"), ("ip", "NME inter-pupil %"),
        ("diff", "minus AAN, same start and seed"), ("paper", "paper, AFLW (Table 5)")])
    if "iters" not in payload:
        return table
    return "\n\n".join([
        f"300W common (554 faces), trained on the 1,675 training faces present; every run "
        f"{payload['iters']} iterations of batch {payload['batch']} (the paper's recipe at "
        f"CPU size, aan_300w_cpu*.py, lr x0.1 at 60% and 85%). Fair start: "
        f"`{' '.join(payload['starts']['fair'])}`.", table,
        f"Command: `python -m bench.table5_real_300w --300w-root DIR --iters "
        f"{payload['iters']} --resume --parallel 2`: two runs at a time, one thread each "
        f"(or `--parallel 1 --alongside 1` beside another grid, the same). "
        f"{payload.get('machine', '')}."])


def main(argv: list[str] | None = None) -> None:
    declared_grid_main(
        argv, tool="table5_real_300w", doc=__doc__, specs=specs,
        results_markdown=results_markdown, default_iters=DEFAULT_ITERS, runs_dir="table5_real",
        declared=dict(grid=[dict(variant=v, start=s, seeds=list(seeds)) for v, s, seeds in GRID],
                      starts={k: list(v) for k, v in STARTS.items()}))


if __name__ == "__main__":
    main()
