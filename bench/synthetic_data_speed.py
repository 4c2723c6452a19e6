"""Is synthetic-face generation the bottleneck of training? Images/s generated (render only,
and render + the MMPose training pipeline, on one process; and the pool path of
mm_configs/aan_synthetic_pool.py: a batch drawn from the crop cache, collated, normalised and
augmented by RandomFaceBatchAugment) against images/s trained by the demo model
(mm_configs/aan_synthetic.py: forward + backward + Adam step), in one run.

    .venv/bin/python -m bench.synthetic_data_speed            # the reported run
    .venv/bin/python -m bench.synthetic_data_speed --tiny     # smoke run (CI)
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import torch

from bench.common import (
    REPO,
    BenchParser,
    command_line,
    environment,
    json_args,
    machine_line,
    markdown_table,
    write_json,
)


def rate(fn, n: int) -> float:
    fn(0)  # warm-up
    start = time.perf_counter()
    for i in range(1, n + 1):
        fn(i)
    return n / (time.perf_counter() - start)


def results_markdown(payload: dict) -> str:
    """The rate table of a results file, from its rates."""
    a = payload["args"]
    train = payload["train_images_per_s"]
    rates = [("render (numpy + OpenCV)", payload["render_images_per_s"]),
             ("render + MMPose train pipeline", payload["pipeline_images_per_s"]),
             ("pool + RandomFaceBatchAugment (kornia, CPU)", payload["pool_augment_images_per_s"]),
             (f"train AAN (batch {a['batch']}, {a['threads']} threads)", train)]
    table = markdown_table([dict(stage=k, ips=f"{v:.0f}", ratio=f"{v / train:.1f}")
                            for k, v in rates],
                           [("stage", "stage"), ("ips", "images/s"),
                            ("ratio", "x training rate")])
    return "\n\n".join([
        "Synthetic faces (`mm_configs/aan_synthetic.py`, and the pool of "
        "`mm_configs/aan_synthetic_pool.py`): data on one process, training in the same run.",
        table, f"Command: `{command_line('synthetic_data_speed', a)}`", machine_line(payload)])


def main(argv: list[str] | None = None) -> None:
    parser = BenchParser(__doc__, "synthetic_data_speed", results_markdown, tiny=True)
    parser.add_argument("--faces", type=int, default=400, help="faces timed per measurement")
    parser.add_argument("--train-iters", type=int, default=10)
    parser.add_argument("--pool", type=int, default=256, help="pool faces (timing only)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    if args.tiny:
        args.faces, args.train_iters, args.batch, args.pool = 8, 1, 4, 8
        args.out = Path(tempfile.mkdtemp()) / "synthetic_data_speed_tiny.json"
    torch.set_num_threads(args.threads)

    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import init_default_scope
    from mmpose.registry import DATASETS, MODELS

    import aan_components.plugin  # noqa: F401
    from aan_core.data.synthetic_faces import render_synthetic_face

    init_default_scope("mmpose")
    cfg = Config.fromfile(str(REPO / "mm_configs" / "aan_synthetic.py"))
    ds_cfg = cfg.train_dataloader.dataset
    dataset = DATASETS.build(dict(ds_cfg, num_samples=10**6))
    render = rate(lambda i: render_synthetic_face(0, i, ds_cfg.image_size), args.faces)
    pipeline = rate(lambda i: dataset[i], args.faces)

    model = MODELS.build(cfg.model).train()
    optim = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-3)
    batch = pseudo_collate([dataset[i] for i in range(args.batch)])

    def step(_):
        data = model.data_preprocessor(batch, training=True)
        losses = model(**data, mode="loss")
        loss = sum(v for k, v in losses.items() if "loss" in k)
        optim.zero_grad()
        loss.backward()
        optim.step()

    train = rate(step, args.train_iters) * args.batch

    # the pool path: crops prepared once; each batch is drawn, collated, normalised, augmented
    pool_cfg = Config.fromfile(str(REPO / "mm_configs" / "aan_synthetic_pool.py"))
    pool_ds_cfg = pool_cfg.train_dataloader.dataset
    pool = DATASETS.build(dict(pool_ds_cfg, num_workers=0, dataset=dict(
        pool_ds_cfg.dataset, num_samples=args.pool)))
    pool_preprocessor = MODELS.build(pool_cfg.model).data_preprocessor
    draw = torch.Generator().manual_seed(0)

    def pool_batch(_):
        idx = torch.randint(len(pool), (args.batch,), generator=draw).tolist()
        pool_preprocessor(pseudo_collate([pool[i] for i in idx]), training=True)

    pooled = rate(pool_batch, args.train_iters) * args.batch
    payload = dict(benchmark="synthetic_data_speed", args=json_args(args),
        environment=environment(), render_images_per_s=render,
        pipeline_images_per_s=pipeline, pool_augment_images_per_s=pooled,
        train_images_per_s=train)
    text = results_markdown(payload)
    payload["table"] = text.split("\n\n")[1]
    print(f"\nSynthetic faces at {ds_cfg.image_size} px, crops at {cfg.codec.input_size}\n")
    print(text)
    write_json(args.out, payload, "synthetic_data_speed", results_markdown)


if __name__ == "__main__":
    main()
