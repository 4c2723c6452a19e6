"""What each arm of the batch-augmentation study costs a training step: milliseconds a batch
of its data path in the model's data preprocessor (collate the cached crops, BGR to RGB,
normalise, ``RandomFaceBatchAugment`` down to the model's 128 px) at the arm's own cache size,
beside the model's own step (forward, backward, Adam through the config's optimiser wrapper:
bf16 autocast, channels-last, as the CPU switch trains), all in one run on ``--threads``
threads (1: each study run trained on one).

Every arm is its ``bench.real_300w`` grid entry (config and ``--cfg-options``) with the data
preprocessor its runs trained with (MMPose's ``PoseDataPreprocessor``, which normalises the
wide crops before the augmentation), so the cost measured is that of the runs recorded. One
more row, ``FROM_PIXELS``, is the reference as the config ships now:
``PixelBatchAugmentPreprocessor`` hands the augmentation the crops as pixels and normalises
its 128 px output only (the same batch, draw for draw). The crops are random pixels of the
cache's size (the data path's arithmetic does not depend on what the pixels show) with 68
landmarks inside the face box; the faces are drawn fresh for every batch, outside the timer.
Every arm is timed once a round, ``--rounds`` rounds, median of every timed batch; a step's
images/s is estimated as batch / (data path + model step), and each arm's as a ratio to the
reference's.

    .venv/bin/python -m bench.batch_augment_speed            # the reported run
    .venv/bin/python -m bench.batch_augment_speed --tiny     # smoke run (CI)
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

from bench.common import (
    BenchParser,
    command_line,
    environment,
    json_args,
    machine_line,
    markdown_table,
    write_json,
)
from bench.equal_time import arm_config
from bench.real_300w import (
    BATCH_INVALID,
    BATCH_REFERENCES,
    BATCH_STUDY_ARMS,
    grid_specs,
)

TOOL = "batch_augment_speed"
REFERENCE = BATCH_REFERENCES[0]
# the arms timed: the reference and every arm the study reads (the invalid one measured
# nothing it was declared to, so its cost is not asked)
# the reference's data path as the config ships it now (the study's runs trained without it)
FROM_PIXELS = f"{REFERENCE}, from pixels"
ARMS = (REFERENCE, FROM_PIXELS, *(a for a in BATCH_STUDY_ARMS if a not in BATCH_INVALID))
MODEL_STEP = "model step"
# the data preprocessor the study's runs trained with
STUDY_PREPROCESSOR = "model.data_preprocessor.type=PoseDataPreprocessor"


def arm_cfg(arm: str):
    """An arm's config as its study runs were trained with (config and ``--cfg-options``,
    MMPose's data preprocessor); :data:`FROM_PIXELS`: the reference's as shipped now."""
    if arm == FROM_PIXELS:
        spec = grid_specs([REFERENCE])[0]
        return arm_config(f"mm_configs/{spec['config']}", spec["options"])
    spec = grid_specs([arm])[0]
    return arm_config(f"mm_configs/{spec['config']}", [*spec["options"], STUDY_PREPROCESSOR])


def cache_size(cfg) -> tuple[int, int]:
    """The crop cache's pixels: the cache pipeline's ``TopdownAffine`` input size (w, h)."""
    step = next(s for s in cfg.train_dataloader.dataset.dataset.pipeline
                if s["type"] == "TopdownAffine")
    return tuple(step["input_size"])


def fake_faces(size: tuple[int, int], batch: int, flip_indices: list[int],
               generator: torch.Generator) -> dict:
    """A collated batch as ``PackPoseInputs`` gives it: ``batch`` uint8 crops of ``size`` and
    their samples, 68 landmarks inside the face box (the middle 1/2.19 of the wide crop)."""
    from mmengine.structures import InstanceData
    from mmpose.structures import PoseDataSample

    width, height = size
    inputs, samples = [], []
    for _ in range(batch):
        inputs.append(torch.randint(0, 256, (3, height, width), dtype=torch.uint8,
                                    generator=generator))
        sample = PoseDataSample(metainfo=dict(flip_indices=flip_indices))
        points = 0.5 + (torch.rand(1, len(flip_indices), 2, generator=generator) - 0.5) / 2.19
        sample.gt_instance_labels = InstanceData(keypoint_labels=points,
                                                 keypoint_weights=torch.ones(1, len(points[0])))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def time_ms(fn, prepare, n: int) -> list[float]:
    """Milliseconds of each of ``n`` calls of ``fn(prepare())``, ``prepare`` untimed."""
    times = []
    for _ in range(n):
        data = prepare()
        start = time.perf_counter()
        fn(data)
        times.append(1000 * (time.perf_counter() - start))
    return times


def measure(arms: tuple[str, ...], batch: int, rounds: int, batches: int, steps: int,
            generator: torch.Generator) -> dict:
    """Every arm's data path and the model's step, once a round; every timed batch kept."""
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope
    from mmpose.datasets.datasets.utils import parse_pose_metainfo
    from mmpose.registry import MODELS

    import aan_components.plugin  # noqa: F401
    from aan_components.datasets.converted_datasets import AANFace300WDataset

    init_default_scope("mmpose")
    flips = list(parse_pose_metainfo(AANFace300WDataset.METAINFO)["flip_indices"])
    cfgs = {a: arm_cfg(a) for a in arms}
    sizes = {a: cache_size(c) for a, c in cfgs.items()}
    preprocessors = {a: MODELS.build(c.model.data_preprocessor).train() for a, c in cfgs.items()}
    model = MODELS.build(cfgs[REFERENCE].model).train().to(memory_format=torch.channels_last)
    optim_wrapper = build_optim_wrapper(model, cfgs[REFERENCE].optim_wrapper)
    step_data = preprocessors[REFERENCE](
        fake_faces(sizes[REFERENCE], batch, flips, generator), training=True)
    step_data["inputs"] = step_data["inputs"].contiguous(memory_format=torch.channels_last)

    def model_step(data):  # mmengine's BaseModel.train_step, the data already preprocessed
        with optim_wrapper.optim_context(model):
            losses = model(**data, mode="loss")
        loss, _ = model.parse_losses(losses)
        optim_wrapper.update_params(loss)

    times = {a: [] for a in (*arms, MODEL_STEP)}
    for _ in range(rounds):
        for arm in arms:
            prepare = lambda size=sizes[arm]: fake_faces(size, batch, flips, generator)  # noqa: E731
            run = lambda data, arm=arm: preprocessors[arm](data, training=True)  # noqa: E731
            run(prepare())  # warm-up
            times[arm] += time_ms(run, prepare, batches)
        model_step(step_data)  # warm-up
        times[MODEL_STEP] += time_ms(model_step, lambda: step_data, steps)
    return dict(arms={a: dict(cache_px=list(sizes[a]), ms=[round(t, 2) for t in ts])
                      for a, ts in times.items() if a != MODEL_STEP},
                model_step=dict(ms=[round(t, 2) for t in times[MODEL_STEP]]))


def results_markdown(payload: dict) -> str:
    """The table of a results file: each arm's median ms a batch, its difference from the
    reference's, and the estimated training images/s of a step with it, as a ratio to the
    reference's."""
    a = payload["args"]
    step = statistics.median(payload["model_step"]["ms"])
    medians = {arm: statistics.median(e["ms"]) for arm, e in payload["arms"].items()}
    ref = medians[REFERENCE]

    def ips(ms: float) -> float:
        return 1000 * a["batch"] / (ms + step)

    rows = [dict(arm=arm, px="x".join(map(str, e["cache_px"])), ms=f"{medians[arm]:.1f}",
                 diff="" if arm == REFERENCE else f"{medians[arm] - ref:+.1f}",
                 share=f"{100 * medians[arm] / (medians[arm] + step):.0f}%",
                 ips=f"{ips(medians[arm]):.0f}",
                 ratio=f"{ips(medians[arm]) / ips(ref):.2f}x")
            for arm, e in payload["arms"].items()]
    table = markdown_table(rows, [
        ("arm", "arm"), ("px", "cache (px)"), ("ms", "data path, ms a batch (median)"),
        ("diff", "minus reference"), ("share", "share of a step"),
        ("ips", "images/s, step estimated"), ("ratio", "vs reference")])
    return "\n\n".join([
        f"The batch-augmentation study's data path (`bench.real_300w`'s arms: collate, "
        f"normalise, `RandomFaceBatchAugment`, as its runs trained), batch {a['batch']}, "
        f"{a['threads']} thread(s), {a['rounds']} round(s) of {a['batches']} batches an arm; "
        f"the model's step (forward, backward, Adam; bf16, channels-last): "
        f"{step:.1f} ms (median of {len(payload['model_step']['ms'])})"
        + (". Load average {:.2f} before, {:.2f} after: other work shared the machine, so "
           "the times are long and the ratios are what counts.".format(*payload["load_average"])
           if payload.get("load_average", [0])[0] > a["threads"] + 0.5 else "."),
        table] + ([f"`{FROM_PIXELS}`: the reference's data path as the config ships it now "
                   f"(`PixelBatchAugmentPreprocessor`: the crops go to the augmentation as "
                   f"pixels and only its 128 px output is normalised; the same batch, draw "
                   f"for draw)."] if FROM_PIXELS in payload["arms"] else []) + [
        f"Command: `{command_line(TOOL, a)}`", machine_line(payload)])


def main(argv: list[str] | None = None) -> None:
    parser = BenchParser(__doc__, TOOL, results_markdown, tiny=True)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batches", type=int, default=10, help="timed batches an arm a round")
    parser.add_argument("--steps", type=int, default=5, help="timed model steps a round")
    args = parser.parse_args(argv)
    if args.tiny:
        args.batch, args.rounds, args.batches, args.steps = 2, 1, 1, 1
        if args.out == parser.get_default("out"):  # never over the reported run
            args.out = Path(tempfile.mkdtemp()) / f"{TOOL}_tiny.json"
    torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(0)
    load_before = os.getloadavg()[0]
    measured = measure(ARMS, args.batch, args.rounds, args.batches, args.steps, generator)
    payload = dict(benchmark=TOOL, args=json_args(args),
                   environment=environment(),
                   load_average=[round(load_before, 2), round(os.getloadavg()[0], 2)],
                   **measured)
    text = results_markdown(payload)
    print(text)
    write_json(args.out, payload, TOOL, results_markdown)


if __name__ == "__main__":
    main()
