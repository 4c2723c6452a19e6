"""Why AAN's attention costs accuracy on real faces: attention forms against no attention,
trained on the 300W training faces a user has and tested on the common subset (554 faces),
every run with the fair start of ``bench.table5_real_300w`` (regressors at the training mean
shape, the embedding's bandwidth from the first batch).

Every run is `mim train mmpose <config>` with ``--cfg-options`` for its attention form
(``model.backbone.attention=<form>``, see ``aan_core.create_attention``), its budget (lr x0.1
at 60% and 85%) and the fair start. Four parts, each declared here before it runs:

- ``a``: the Table 5 budget (``aan_300w_cpu.py``, the paper's recipe, 1,500 iterations,
  seeds 0-2): ``fixed-gain`` (``F = g H``, the paper's mean gain at initialisation without its
  map) and ``aan-mean-one`` (the paper's map with its mean gain divided out), beside the
  ``aan`` and ``none`` runs of ``bench/results/table5_real_300w.json`` (its fair start; read
  from there, not re-run);
- ``b``: the same with global average pooled regressor inputs
  (``model.head.final_input=gap model.head.branch_input=gap``) instead of the flattened maps:
  ``aan`` and ``none``, seeds 0-2;
- ``c``: the best recipe (``aan_300w_cpu_aug.py`` with the L1 loss, 6,000 iterations):
  ``none`` and ``aan``, seeds 0, 1;
- ``d``: attention inside timm's resnet18 (``aan_timm-resnet18_300w_cpu.py``) at the budget
  of ``bench.backbone_real_300w``: timm's ``se``, ``eca``, ``cbam``, and ``aan``, ``none``,
  seeds 0, 1.

``--only a`` runs one part; ``--resume`` keeps finished runs; the JSON and its tables are
rewritten after every run. Each part's table gives every form's NME per seed and its paired
difference from ``none`` (same part and seed).

    python -m bench.attention_real_300w --300w-root data/300w --only a --resume --parallel 2
    python -m bench.attention_real_300w --summarise bench/results/attention_real_300w.json
"""

from __future__ import annotations

import json

from bench import backbone_real_300w
from bench.common import REPO, markdown_table
from bench.real_300w import declared_grid_main
from bench.table5_real_300w import STARTS, _stat, budget_options

L1_LOSS = ("model.head.loss.loss.type=L1Loss", "model.head.loss.loss.loss_weight=136")
GAP_INPUTS = ("model.head.final_input=gap", "model.head.branch_input=gap")
# part: (label, config, iterations, extra cfg-options, forms, seeds); declared before the runs
PARTS = {
    "a": ("Table 5 budget, paper recipe", "aan_300w_cpu.py", 1500, (),
          ("fixed-gain", "aan-mean-one"), (0, 1, 2)),
    "b": ("Table 5 budget, regressors on pooled maps (gap)", "aan_300w_cpu.py", 1500,
          GAP_INPUTS, ("aan", "none"), (0, 1, 2)),
    # the best form of part (a) joins these two once (a) is measured
    "c": ("best recipe: augmented, L1 loss", "aan_300w_cpu_aug.py", 6000, L1_LOSS,
          ("none", "aan"), (0, 1)),
    "d": ("timm resnet18, attention in-stage", backbone_real_300w.CONFIG,
          backbone_real_300w.DEFAULT_ITERS, (), ("se", "eca", "cbam", "aan", "none"), (0, 1)),
}
# part (a)'s aan and none: the Table 5 fair-start runs (variant -> form)
TABLE5 = ("bench/results/table5_real_300w.json", {"aan": "aan", "no_attention": "none"})


def specs(iters: int | None = None) -> list[dict]:
    """One run spec per (part, form, seed), in part order, seeds outermost within a part so
    that an interrupted part has every form's first seeds. Every run declares its budget
    (``iters`` is unused: the command line has no --iters)."""
    out = []
    for part, (label, config, iterations, options, forms, seeds) in PARTS.items():
        for seed in seeds:
            for form in forms:
                out.append(dict(
                    part=part, arm=f"{part}_{form}", attention=form, seed=seed,
                    label=f"{label}, attention {form}", config=config,
                    options=[f"model.backbone.attention={form}", *options, *STARTS["fair"],
                             *budget_options(iterations)]))
    return out


def table5_runs(path: str = TABLE5[0]) -> tuple[list[dict], str]:
    """Part (a)'s ``aan`` and ``none`` runs from the Table 5 results (fair start), as this
    tool's rows, and the machine they ran on."""
    payload = json.loads((REPO / path).read_text())
    rows = [dict(r, part="a", attention=TABLE5[1][r["variant"]], source=path)
            for r in payload["runs"] if r["start"] == "fair" and r["variant"] in TABLE5[1]]
    return rows, payload.get("machine", "")


def part_markdown(part: str, runs: list[dict]) -> str:
    """One part's table: every form's NME per seed, mean ± sd, and its difference from
    ``none`` of the same seed."""
    cells: dict[str, dict[int, dict]] = {}
    for r in runs:
        cells.setdefault(r["attention"], {})[r["seed"]] = r
    none = cells.get("none", {})
    rows = []
    for form in sorted(cells, key=lambda f: (f != "none", f)):
        by_seed = cells[form]
        seeds = sorted(by_seed)
        io = [by_seed[s]["nme_io"] for s in seeds]
        paired = [by_seed[s]["nme_io"] - none[s]["nme_io"] for s in seeds if s in none]
        rows.append(dict(
            form=form + (" (Table 5 run)" if by_seed[seeds[0]].get("source") else ""),
            seeds=", ".join(map(str, seeds)), each=", ".join(f"{v:.2f}" for v in io),
            io=_stat(io), ip=_stat([by_seed[s]["nme_ip"] for s in seeds]),
            diff="" if form == "none" else _stat(paired),
            iterations=", ".join(sorted({str(by_seed[s].get("iterations", "")) for s in seeds}))))
    return markdown_table(rows, [
        ("form", "attention"), ("seeds", "seeds"), ("each", "NME(IO) % per seed"),
        ("io", "NME inter-ocular % (mean ± sd)"), ("ip", "NME inter-pupil %"),
        ("diff", "minus none, same seed (mean ± sd)"), ("iterations", "iterations")])


def results_markdown(payload: dict) -> str:
    """A table per part that has runs (part (a) with the Table 5 runs of ``aan`` and
    ``none``), each with how it was made."""
    runs = payload.get("runs", [])
    sections = [f"300W common (554 faces), trained on the 1,675 training faces present; batch "
                f"32; fair start `{' '.join(STARTS['fair'])}`; the form set by "
                f"`model.backbone.attention`. Paired differences: minus `none` of the same "
                f"part and seed (negative: the form helps)."]
    for part, (label, config, iterations, options, _, _) in PARTS.items():
        mine = [r for r in runs if r.get("part") == part]
        notes = ""
        if part == "a" and mine:
            imported, machine = table5_runs()
            mine = imported + mine
            notes = (f" `aan` and `none`: the Table 5 fair-start runs ({TABLE5[0]}), made on "
                     f"another CPU ({machine}).")
        if not mine:
            continue
        extra = f" `{' '.join(options)}`," if options else ""
        sections += [f"**({part}) {label}**: `{config}`,{extra} {iterations} iterations."
                     f"{notes}", part_markdown(part, mine)]
    sections.append(f"Command: `python -m bench.attention_real_300w --300w-root DIR --only "
                    f"PART --resume --parallel 2`. {payload.get('machine', '')}.")
    return "\n\n".join(sections)


def main(argv: list[str] | None = None) -> None:
    declared_grid_main(
        argv, tool="attention_real_300w", doc=__doc__, specs=specs,
        results_markdown=results_markdown, default_iters=None, runs_dir="attention_real",
        parts=tuple(PARTS),
        declared=dict(parts={p: dict(label=v[0], config=v[1], iterations=v[2],
                                     options=list(v[3]), forms=list(v[4]), seeds=list(v[5]))
                             for p, v in PARTS.items()},
                      starts={"fair": list(STARTS["fair"])},
                      reference=dict(a=dict(path=TABLE5[0], variants=TABLE5[1]))))


if __name__ == "__main__":
    main()
