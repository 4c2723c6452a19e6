"""The paper's attention gain at initialisation, on real faces: the mean of ``1 + M`` per stage
of a config's AAN network as built (before any step), where the ``'fixed-gain'`` attention
form takes its default ``g`` (``aan_core.network.attention.AAN_INIT_GAIN``).

The network is the config's model (default ``mm_configs/aan_300w_cpu.py``, the paper's network
at CPU size with the paper's gate), built and initialised as ``mim train`` builds it, once per
seed. One batch of the config's batch size is cropped by the config's training pipeline from
training faces spread evenly over the training set, and passed through the backbone in
training mode, as in the first step (BatchNorm on the batch's statistics), in fp32. The gain
is the mean of ``1 + M`` over the batch and every position of each stage's map.

    python -m bench.attention_init_gain --300w-root data/300w
    python -m bench.attention_init_gain --summarise bench/results/attention_init_gain.json
"""

from __future__ import annotations

import statistics
from pathlib import Path

import numpy as np
import torch

from bench.common import (
    REPO,
    ROOT_HELP,
    BenchParser,
    environment,
    machine_text,
    markdown_table,
    write_json,
)

TOOL = "attention_init_gain"
SEEDS = (0, 1, 2)


def stage_gains(config: Path, root: Path, seed: int, faces: int | None = None) -> list[float]:
    """Mean ``1 + M`` of every stage of ``config``'s network at initialisation (``seed``), on
    one training batch (``faces`` faces, default the config's batch size) from ``root``."""
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import init_default_scope
    from mmpose.registry import DATASETS, MODELS

    import aan_components.plugin  # noqa: F401

    init_default_scope("mmpose")
    cfg = Config.fromfile(str(config))
    dataset_cfg = cfg.train_dataloader.dataset
    while "ann_file" not in dataset_cfg:
        dataset_cfg = dataset_cfg.dataset  # unwrap CropCacheDataset and the like
    dataset = DATASETS.build(dict(dataset_cfg, data_root=f"{root}/"))
    count = faces or cfg.train_dataloader.batch_size
    indices = np.linspace(0, len(dataset) - 1, count).round().astype(int)
    torch.manual_seed(seed)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.train()
    batch = model.data_preprocessor(pseudo_collate([dataset[int(i)] for i in indices]),
                                    training=True)
    with torch.no_grad():
        model.backbone(batch["inputs"])
    maps = model.backbone.attention_maps
    if any(m is None for m in maps):
        raise ValueError(f"{config}: the backbone's attention has no spatial map in every "
                         f"stage (model.backbone.attention must be 'aan')")
    return [round(float((1 + m).mean()), 4) for m in maps]


def results_markdown(payload: dict) -> str:
    """Per stage, the gain of every seed and its mean; then the default ``g``."""
    runs = payload.get("runs", [])
    stages = len(runs[0]["gains"]) if runs else 0
    rows = []
    for s in range(stages):
        values = [r["gains"][s] for r in runs]
        rows.append(dict(stage=str(s + 1), each=", ".join(f"{v:.3f}" for v in values),
                         mean=f"{statistics.fmean(values):.3f}"))
    table = markdown_table(rows, [("stage", "stage"), ("each", "mean 1 + M, per seed"),
                                  ("mean", "mean over seeds")])
    return "\n\n".join([
        f"`{payload.get('config')}` at initialisation, seeds "
        f"{', '.join(str(r['seed']) for r in runs)}: one training batch of "
        f"{payload.get('faces')} real faces (300W training set), training-mode BatchNorm, "
        f"fp32.", table,
        f"Mean over stages and seeds: {payload.get('mean_gain', 0):.3f}; the `'fixed-gain'` "
        f"form's default g = {payload.get('default_gain')}.",
        f"Command: `python -m bench.{TOOL} --300w-root DIR`. {payload.get('machine', '')}"])


def main(argv: list[str] | None = None) -> None:
    parser = BenchParser(__doc__, TOOL, results_markdown, root=ROOT_HELP, root_required=True)
    parser.add_argument("--config", default="mm_configs/aan_300w_cpu.py")
    parser.add_argument("--faces", type=int, default=None,
                        help="faces in the batch (default: the config's batch size)")
    args = parser.parse_args(argv)
    config = REPO / args.config
    runs = [dict(seed=s, gains=stage_gains(config, args.root.resolve(), s, args.faces))
            for s in SEEDS]
    mean = statistics.fmean(g for r in runs for g in r["gains"])
    faces = args.faces or _batch_size(config)
    payload = dict(benchmark=TOOL, config=args.config, faces=faces, runs=runs,
                   mean_gain=round(mean, 4), default_gain=round(mean, 2),
                   machine=machine_text(), environment=environment(),
                   protocol=__doc__.split("\n\n", 1)[1].split("\n\n    python")[0])
    write_json(args.out, payload, TOOL, results_markdown)
    print(results_markdown(payload))


def _batch_size(config: Path) -> int:
    from mmengine.config import Config

    return int(Config.fromfile(str(config)).train_dataloader.batch_size)


if __name__ == "__main__":
    main()
