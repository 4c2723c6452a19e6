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
  ``none``, ``aan`` and part (a)'s best form, ``aan-mean-one``, seeds 0, 1;
- ``d``: attention inside timm's resnet18 (``aan_timm-resnet18_300w_cpu.py``) at the budget
  of ``bench.backbone_real_300w``: timm's ``se``, ``eca`` and ``cbam``, seeds 0, 1, beside
  that study's ``aan`` and ``none`` resnet18 runs (the same config, budget, fair start and
  seeds; read from ``bench/results/backbone_real_300w.json``, not re-run).

``--only a`` runs one part; ``--resume`` keeps finished runs; the JSON and its tables are
rewritten after every run. Each part's table gives every form's NME per seed and its paired
difference from ``none`` (same part and seed).

    python -m bench.attention_real_300w --300w-root data/300w --only a --resume --parallel 2
    python -m bench.attention_real_300w --summarise bench/results/attention_real_300w.json
"""

from __future__ import annotations

import json

from bench import backbone_real_300w
from bench.common import REPO, markdown_table, mean_sd
from bench.real_300w import declared_grid_main
from bench.table5_real_300w import STARTS, budget_options

L1_LOSS = ("model.head.loss.loss.type=L1Loss", "model.head.loss.loss.loss_weight=136")
GAP_INPUTS = ("model.head.final_input=gap", "model.head.branch_input=gap")
# part: (label, config, iterations, extra cfg-options, forms, seeds); declared before the runs
PARTS = {
    "a": ("Table 5 budget, paper recipe", "aan_300w_cpu.py", 1500, (),
          ("fixed-gain", "aan-mean-one"), (0, 1, 2)),
    "b": ("Table 5 budget, regressors on pooled maps (gap)", "aan_300w_cpu.py", 1500,
          GAP_INPUTS, ("aan", "none"), (0, 1, 2)),
    # with part (a)'s best form: aan-mean-one (cost 0.09 ± 0.09 there, fixed-gain 0.72)
    "c": ("best recipe: augmented, L1 loss", "aan_300w_cpu_aug.py", 6000, L1_LOSS,
          ("none", "aan", "aan-mean-one"), (0, 1)),
    # none added after the first (d) runs (seed 0: se 5.22, eca 5.23 against the backbone
    # study's none at 5.39, made on another CPU): the forms are paired with a none of the same
    # CPU, so that a difference between machines cannot pass for an effect of the form
    "d": ("timm resnet18, attention in-stage", backbone_real_300w.CONFIG,
          backbone_real_300w.DEFAULT_ITERS, (), ("se", "eca", "cbam", "none"), (0, 1)),
}
# runs of other studies that are this grid's aan and none arms (same config, budget, start
# and seeds): part -> (results file, the rows' arm -> form, how the table marks them)
REFERENCES = {
    "a": ("bench/results/table5_real_300w.json",
          {"aan_fair": "aan", "no_attention_fair": "none"}, "Table 5 run"),
    "d": ("bench/results/backbone_real_300w.json",
          {"resnet18_attention": "aan", "resnet18_no-attention": "none"}, "backbone study run"),
}


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


def reference_runs(part: str) -> tuple[list[dict], str]:
    """A part's ``aan`` and ``none`` runs taken from another study (``REFERENCES``), as this
    tool's rows, and the machine they ran on; none for a part without references."""
    if part not in REFERENCES:
        return [], ""
    path, arms, mark = REFERENCES[part]
    payload = json.loads((REPO / path).read_text())
    rows = [dict(r, part=part, attention=arms[r["arm"]], source=mark)
            for r in payload["runs"] if r["arm"] in arms]
    return rows, payload.get("machine", "")


def paired_with_none(runs: list[dict], form: str, source: str = "") -> list[float]:
    """``form``'s NME(IO) minus ``none``'s, seed by seed, both from the same ``source`` (this
    tool's own runs: ``""``; a reference study's: its mark), so that the pairs share a CPU;
    a part with no ``none`` of that source pairs with the reference study's."""
    nones = [r for r in runs if r["attention"] == "none"]
    nones = [r for r in nones if r.get("source", "") == source] or nones
    none = {r["seed"]: r["nme_io"] for r in nones}
    return [r["nme_io"] - none[r["seed"]] for r in sorted(runs, key=lambda r: r["seed"])
            if r["attention"] == form and r.get("source", "") == source and r["seed"] in none]


def part_markdown(part: str, runs: list[dict]) -> str:
    """One part's table: every form's NME per seed, mean ± sd, and its difference from
    ``none`` of the same seed and source (a reference study's forms from its own ``none``)."""
    cells: dict[tuple[str, str], dict[int, dict]] = {}
    for r in runs:
        cells.setdefault((r["attention"], r.get("source", "")), {})[r["seed"]] = r
    rows = []
    for form, source in sorted(cells, key=lambda c: (c[0] != "none", c[0], c[1])):
        by_seed = cells[form, source]
        seeds = sorted(by_seed)
        io = [by_seed[s]["nme_io"] for s in seeds]
        paired = paired_with_none(runs, form, source)
        rows.append(dict(
            form=form + (f" ({source})" if source else ""),
            seeds=", ".join(map(str, seeds)), each=", ".join(f"{v:.2f}" for v in io),
            io=mean_sd(io), ip=mean_sd([by_seed[s]["nme_ip"] for s in seeds]),
            diff="" if form == "none" else mean_sd(paired),
            iterations=", ".join(sorted({str(by_seed[s].get("iterations", "")) for s in seeds}))))
    return markdown_table(rows, [
        ("form", "attention"), ("seeds", "seeds"), ("each", "NME(IO) % per seed"),
        ("io", "NME inter-ocular % (mean ± sd)"), ("ip", "NME inter-pupil %"),
        ("diff", "minus none, same seed (mean ± sd)"), ("iterations", "iterations")])


def results_markdown(payload: dict) -> str:
    """A table per part that has runs (parts (a) and (d) with the ``aan`` and ``none``
    runs of the study they come from), each with how it was made."""
    runs = payload.get("runs", [])
    sections = [f"300W common (554 faces), trained on the 1,675 training faces present; batch "
                f"32; fair start `{' '.join(STARTS['fair'])}`; the form set by "
                f"`model.backbone.attention`. Paired differences: minus `none` of the same "
                f"part and seed (negative: the form helps)."]
    for part, (label, config, iterations, options, _, _) in PARTS.items():
        mine = [r for r in runs if r.get("part") == part]
        notes = ""
        imported, machine = reference_runs(part) if mine else ([], "")
        if imported:
            mine = imported + mine
            notes = (f" `aan` and `none`: the runs of {REFERENCES[part][0]} (same config, "
                     f"budget, fair start and seeds), made on {machine}.")
            if any(r["attention"] == "none" and "source" not in r for r in mine):
                notes += (" `none` was also run here, on this study's CPU: each form is paired "
                          "with the `none` of its own CPU.")
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
                      reference={p: dict(path=path, arms=arms)
                                 for p, (path, arms, _) in REFERENCES.items()}))


if __name__ == "__main__":
    main()
