"""Equal-budget accuracy benchmark on synthetic faces: AAN, its Table 5 ablations and
MMPose's plain ResNet regression baseline.

Every model trains on the same synthetic training set for the same number of iterations
(same batch and optimiser as mm_configs/aan_synthetic.py, at a constant learning rate) and
is tested on the same held-out synthetic set; each is repeated for several
seeds (model init and sample order). Prints a markdown table and writes JSON (after every
run, so an interrupted benchmark keeps its finished runs).

    .venv/bin/python bench/synthetic_ablation.py                # the reported run
    .venv/bin/python bench/synthetic_ablation.py --tiny         # smoke run (CI)
"""

from __future__ import annotations

import argparse
import copy
import logging
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, environment, markdown_table, write_json  # noqa: E402
from equal_budget import TABLE_COLUMNS, summarise, train_and_test  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "mm_configs" / "aan_synthetic.py"
VARIANTS = {
    "aan": "AAN (attention + embedding)",
    "no_embedding": "w/o embedding",
    "no_attention": "w/o attention",
    "no_both": "w/o both",
    "resnet": "MMPose ResNet regression",
}
PAPER_ORDER = ["aan", "no_embedding", "no_attention", "no_both"]


def variant_config(name: str, base, resnet_depth: int):
    cfg = copy.deepcopy(base)
    if name in ("no_attention", "no_both"):
        cfg.model.backbone.attention = False
    if name in ("no_embedding", "no_both"):
        cfg.model.head.embedding_dim = None
    if name == "resnet":
        width = 512 if resnet_depth < 50 else 2048
        cfg.model.backbone = dict(type="ResNet", depth=resnet_depth)
        cfg.model.neck = dict(type="GlobalAveragePooling")
        cfg.model.head = dict(type="RegressionHead", in_channels=width, num_joints=68,
                              loss=copy.deepcopy(base.model.head.loss.loss),
                              decoder=copy.deepcopy(base.model.head.decoder))
    return cfg


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iters", type=int, default=400,
                        help="equal budget (constant lr); learning takes off after ~250")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--resnet-depth", type=int, default=18, choices=[18, 34, 50])
    parser.add_argument("--train-samples", type=int, default=20000)
    parser.add_argument("--test-samples", type=int, default=500)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS / "synthetic_ablation.json")
    parser.add_argument("--tiny", action="store_true",
                        help="smoke run: 2 iterations, tiny sets, one seed (numbers mean nothing)")
    parser.add_argument("--resume", action="store_true",
                        help="keep the finished runs in --out (same protocol) and run only "
                             "the missing (variant, seed) pairs")
    parser.add_argument("--summarise", type=Path, default=None, metavar="JSON",
                        help="no training: print the table of an earlier (possibly partial, "
                             "interrupted) results file and complete it in place")
    args = parser.parse_args()
    if args.summarise is not None:
        import json

        payload = json.loads(args.summarise.read_text())
        report(payload["runs"], payload, args.summarise)
        return
    if args.tiny:
        args.iters, args.batch, args.seeds = 2, 4, args.seeds[:1]
        args.train_samples, args.test_samples = 16, 8
        if args.out == RESULTS / "synthetic_ablation.json":
            args.out = Path(tempfile.mkdtemp()) / "synthetic_ablation_tiny.json"
    torch.set_num_threads(args.threads)
    logging.getLogger("mmengine").setLevel(logging.WARNING)

    from mmengine.config import Config

    import aan_components.plugin  # noqa: F401

    base = Config.fromfile(str(CONFIG))
    # AAN and its ablations for every seed first, the (much slower) ResNet baseline last;
    # the JSON is rewritten after every run, so an interrupted run keeps what it measured.
    plan = [(n, s) for s in args.seeds for n in args.variants if n != "resnet"]
    plan += [("resnet", s) for s in args.seeds if "resnet" in args.variants]
    rows = previous_runs(args) if args.resume else []
    done = {(r["variant"], r["seed"]) for r in rows}
    for name, seed in [p for p in plan if p not in done]:
        rows.append(train_and_test(variant_config(name, base, args.resnet_depth), name, seed,
                                   args))
        write_json(args.out, dict(benchmark="synthetic_ablation", partial=True,
                                  args=_jsonable(args), environment=environment(), runs=rows))
    report(rows, dict(benchmark="synthetic_ablation", args=_jsonable(args),
                      environment=environment()), args.out)


PROTOCOL = ("iters", "batch", "train_samples", "test_samples", "resnet_depth")


def previous_runs(args) -> list[dict]:
    """Finished runs in ``args.out`` measured with the same protocol (else an error)."""
    import json

    if not args.out.is_file():
        return []
    payload = json.loads(args.out.read_text())
    old = payload.get("args", {})
    differ = [k for k in PROTOCOL if old.get(k) != getattr(args, k)]
    if differ:
        raise SystemExit(
            f"--resume: {args.out} was measured with a different protocol "
            f"({', '.join(f'{k}={old.get(k)} vs {getattr(args, k)}' for k in differ)}); "
            f"use the same options or another --out")
    print(f"[bench] resuming: {len(payload['runs'])} finished runs from {args.out}")
    return list(payload["runs"])


def report(rows: list[dict], payload: dict, out: Path) -> None:
    """Print the summary table and the paper-order verdict; write the completed JSON."""
    summary = summarise(rows, VARIANTS)
    table = markdown_table(summary, TABLE_COLUMNS)
    order = [s["variant"] for s in sorted(summary, key=lambda s: s["nme_mean"])
             if s["variant"] in PAPER_ORDER]
    holds = order == PAPER_ORDER if len(order) == len(PAPER_ORDER) else None
    a = payload["args"]
    seeds = ", ".join(f"{s['variant']} {s['seeds']}" for s in summary)
    print(f"\nEqual budget: {a['iters']} iterations x batch {a['batch']} at a constant lr, "
          f"{a['train_samples']} training faces, {a['test_samples']} test faces; seeds per "
          f"model: {seeds}; per-image inter-ocular NME over the visible points (self-occluded "
          f"and out-of-image points left out)\n")
    print(table)
    verdict = {True: "holds", False: "does not hold", None: "cannot be judged (not all four "
               "variants ran)"}[holds]
    print(f"\nPaper's order (AAN < w/o NE < w/o attention < w/o both) {verdict} here: "
          f"measured order {order}")
    write_json(out, {**payload, "partial": False, "runs": rows, "summary": summary,
                     "measured_order": order, "paper_order_holds": holds, "table": table})


def _jsonable(args) -> dict:
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}


if __name__ == "__main__":
    main()
