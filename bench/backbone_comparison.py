"""Backbone comparison: a grid of timm backbones x attention on/off, each with the AAN head
and intermediate supervision, trained with an equal iteration budget on the same data
(synthetic faces by default, or any MMPose dataset config with --config) and tested on the
same held-out set. Prints a markdown table (NME, AUC, FR, params, GFLOPs, images/s) and
writes JSON.

    .venv/bin/python bench/backbone_comparison.py --backbones resnet18 convnext_atto
    .venv/bin/python bench/backbone_comparison.py --tiny     # smoke run (CI)
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


def grid_config(base, backbone: str, attention: bool, timm_kwargs: dict):
    cfg = copy.deepcopy(base)
    cfg.model.type = "AANPoseEstimator"
    cfg.model.backbone = dict(type="TimmAttentionBackbone", model_name=backbone,
                              pretrained=False, attention=attention, timm_kwargs=timm_kwargs)
    # as mm_configs/_base_/aan_timm_300w.py: timm's early maps are too large to flatten
    cfg.model.head.update(in_channels="auto", final_input="gap", branch_input="gap",
                          feature_sizes=None)
    # the configs' equal branch weights, for however many feature maps the backbone gives
    cfg.model.head.loss.stage_weights = 1.0
    return cfg


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=REPO / "mm_configs" / "aan_synthetic.py",
                        help="dataset + recipe config whose backbone is swapped")
    parser.add_argument("--backbones", nargs="+",
                        default=["resnet18", "convnext_atto", "efficientnet_b0", "regnetx_002"])
    parser.add_argument("--timm-kwargs", default="{}",
                        help="JSON dict passed to every timm.create_model (e.g. img_size)")
    parser.add_argument("--iters", type=int, default=300)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--train-samples", type=int, default=20000)
    parser.add_argument("--test-samples", type=int, default=500)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS / "backbone_comparison.json")
    parser.add_argument("--tiny", action="store_true",
                        help="smoke run: 2 iterations, tiny sets, 2 backbones")
    args = parser.parse_args()
    import json

    timm_kwargs = json.loads(args.timm_kwargs)
    if args.tiny:
        args.iters, args.batch, args.seeds = 2, 4, args.seeds[:1]
        args.train_samples, args.test_samples = 16, 8
        args.backbones = args.backbones[:2]
        if args.out == RESULTS / "backbone_comparison.json":
            args.out = Path(tempfile.mkdtemp()) / "backbone_comparison_tiny.json"
    torch.set_num_threads(args.threads)
    logging.getLogger("mmengine").setLevel(logging.WARNING)

    from mmengine.config import Config

    import aan_components  # noqa: F401

    base = Config.fromfile(str(args.config))
    labels = {f"{b}{'' if att else ' w/o attention'}": (b, att)
              for b in args.backbones for att in (True, False)}
    rows = [train_and_test(grid_config(base, b, att, timm_kwargs), name, seed, args)
            for seed in args.seeds for name, (b, att) in labels.items()]
    summary = summarise(rows, {name: name for name in labels})
    table = markdown_table(summary, TABLE_COLUMNS)
    print(f"\nEqual budget: {args.iters} iterations x batch {args.batch} on {args.config.name}, "
          f"seeds {args.seeds}\n")
    print(table)
    write_json(args.out, dict(benchmark="backbone_comparison", args={
        k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        environment=environment(), runs=rows, summary=summary, table=table))


if __name__ == "__main__":
    main()
