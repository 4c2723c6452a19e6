"""What each stage's attention gate does on real faces, for any checkpoint (and at
initialisation): the statistics that say whether the paper's map ``M`` has learnt where to
look or only scales the features.

Per stage, over the 554 faces of 300W common (ground-truth boxes, the config's test
pipeline, fp32, BatchNorm on its running statistics):

- ``gain``: the mean of the form's gain ``F / H`` (``1 + M``; for ``aan-mean-one``, ``1 + M``
  divided by its mean over each face's positions; ``fixed-gain``: its constant ``g``), and
  ``mean M``, the map's own mean;
- ``dead``: the fraction of positions where the paper's ReLU is dead (the pre-sigmoid BN
  output ``<= 0``, so ``M = 0.5`` there and no gradient reaches the map);
- ``M p95/p5`` and ``gain p95/p5``: spatial contrast, each face's 95th over 5th percentile
  of ``M`` (of the gain), averaged over faces;
- ``near/far``: each face's mean ``M`` at the positions within ``radius`` input pixels of a
  ground-truth landmark (a map cell is near when its footprint in the input crop comes
  within the radius of one), over the mean ``M`` at the other positions, averaged over the
  faces that have both (1: the map ignores the landmarks).

A form without a spatial map (``fixed-gain``) is a constant gain (contrast 1); timm's forms
are listed without statistics. Models come from ``mim train`` work dirs (the config dumped
there, the last checkpoint), and at initialisation from a config and seed, built as
``mim train`` builds it: once with BatchNorm on its initial running statistics (what a test
forward of the untrained network sees), once with BatchNorm on the statistics of each batch
of the config's batch size (what the first training step sees). Results of earlier runs of
the tool are kept unless the same model is measured again.

    python -m bench.gate_stats --300w-root data/300w --work-dirs work_dirs/RUN ... \\
        --init-config mm_configs/aan_300w_cpu.py --figures bench/results/gate_stats
    python -m bench.gate_stats --summarise bench/results/gate_stats.json
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import torch
from torch import nn

from bench.common import (
    REPO,
    ROOT_HELP,
    BenchParser,
    environment,
    machine_text,
    markdown_table,
    repo_relative,
    write_json,
)

TOOL = "gate_stats"
RADIUS_PX = 4.0
"""Input pixels around a landmark that count as near it: one cell of the first stage's map of
``aan_300w_cpu.py`` (128 px crops, stride 4), a fraction of a deeper stage's cell."""


def near_mask(size: tuple[int, int], stride: tuple[float, float], keypoints: np.ndarray,
              radius: float) -> np.ndarray:
    """``(h, w)`` bool: the cells of an ``h x w`` map (each covering ``stride`` input pixels)
    whose footprint in the input comes within ``radius`` pixels of one of ``keypoints``
    (``(K, 2)`` x, y in input pixels).

    Example:
        >>> near_mask((2, 2), (8.0, 8.0), np.array([[4.0, 4.0]]), 4.0).astype(int).tolist()
        [[1, 1], [1, 0]]
    """
    h, w = size
    sy, sx = stride
    x0 = np.arange(w) * sx
    y0 = np.arange(h) * sy
    # distance from each point to each cell's rectangle [x0, x0 + sx) x [y0, y0 + sy)
    dx = np.maximum(np.maximum(x0[None] - keypoints[:, :1], 0), keypoints[:, :1] - (x0 + sx)[None])
    dy = np.maximum(np.maximum(y0[None] - keypoints[:, 1:], 0), keypoints[:, 1:] - (y0 + sy)[None])
    dist2 = dy[:, :, None] ** 2 + dx[:, None, :] ** 2  # (K, h, w)
    return (dist2 <= radius**2).any(axis=0)


class StageRecorder:
    """Per face, the statistics of one stage's gate, from its forwards (hooks on the gate's
    map and on the BN output before the ReLU)."""

    def __init__(self, gate: nn.Module) -> None:
        self.gate = gate
        self.form = _form_of(gate)
        self.z: list[torch.Tensor] = []
        self.m: list[torch.Tensor] = []
        self.handles = []
        attention = getattr(gate, "attention", None)
        if attention is not None:
            self.handles.append(attention.bn.register_forward_hook(
                lambda mod, args, out: self.z.append(out.detach().float())))
            self.handles.append(attention.register_forward_hook(
                lambda mod, args, out: self.m.append(out.detach().float())))

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()

    def faces(self, input_hw: tuple[int, int], keypoints: list[np.ndarray], radius: float,
              ) -> list[dict]:
        """The statistics of every face of the last forward (and forget its maps)."""
        if not self.m:
            return [dict() for _ in keypoints]
        z, m = self.z.pop(), self.m.pop()
        self.z.clear()
        self.m.clear()
        gain = self.gate.gain_from_map(m)
        h, w = m.shape[-2:]
        stride = (input_hw[0] / h, input_hw[1] / w)
        out = []
        for i, kpts in enumerate(keypoints):
            mi, gi = m[i, 0].numpy(), gain[i, 0].numpy()
            near = near_mask((h, w), stride, kpts, radius)
            stats = dict(gain=float(gi.mean()), mean_m=float(mi.mean()),
                         dead=float((z[i, 0] <= 0).float().mean()),
                         contrast_m=_contrast(mi), contrast_gain=_contrast(gi))
            if near.any() and not near.all():
                stats["near_far"] = float(mi[near].mean() / mi[~near].mean())
            out.append(stats)
        return out


def _contrast(values: np.ndarray) -> float:
    p5, p95 = np.percentile(values, [5, 95])
    return float(p95 / p5)


def _form_of(gate: nn.Module) -> str:
    from aan_core.network.attention import AttentionGate, FixedGain

    if isinstance(gate, AttentionGate):
        relu = not isinstance(gate.attention.act, nn.Identity)
        return "aan-mean-one" if gate.mean_one else ("aan" if relu else "aan-norelu")
    if isinstance(gate, FixedGain):
        return "fixed-gain"
    return type(gate).__name__


def stage_gates(model: nn.Module) -> list[nn.Module]:
    """The attention module after each stage of an AAN or timm-attention backbone."""
    body = getattr(model.backbone, "body", None)
    if body is not None and hasattr(body, "gates"):  # TimmAttentionBackbone's AttentionFeatures
        return list(body.gates)
    features = getattr(model.backbone, "features", None)
    if features is not None and hasattr(features, "stages"):  # AANBackbone's stages
        return [stage.gate for stage in features.stages]
    raise ValueError(f"{type(model.backbone).__name__} has no attention stages")


def gate_statistics(model: nn.Module, batches: Iterable[tuple[torch.Tensor, list[np.ndarray]]],
                    radius: float = RADIUS_PX, train_bn: bool = False) -> list[dict]:
    """Per stage of ``model``'s backbone, the gate statistics over the faces of ``batches``
    (``(inputs (B, 3, H, W) as the data preprocessor gives them, [keypoints (K, 2) in input
    pixels] * B)``).

    Args:
        model: An MMPose model with an AAN or timm-attention backbone.
        batches: The faces.
        radius: Near a landmark: within this many input pixels (:func:`near_mask`).
        train_bn: BatchNorm on each batch's statistics (a first training step) instead of its
            running statistics.

    Returns:
        One dict a stage: ``stage``, ``form``, ``size`` ``[h, w]``, ``stride`` (input pixels a
        cell), ``radius_cells``, ``faces``, and ``gain``, ``mean_m``, ``dead``, ``contrast_m``,
        ``contrast_gain``, ``near_far`` (mean over faces; ``near_far_faces`` faces had near
        and far cells), or ``gain`` alone for a constant gain, or no statistics for a form
        this tool does not read.
    """
    from aan_core.network.attention import FixedGain

    gates = stage_gates(model)
    recorders = [StageRecorder(g) for g in gates]
    per_face: list[list[dict]] = [[] for _ in gates]
    shapes: list[tuple[int, int] | None] = [None] * len(gates)
    hw = (0, 0)
    model.train(train_bn)
    try:
        with torch.no_grad():
            for inputs, keypoints in batches:
                model.backbone(inputs)
                hw = (int(inputs.shape[-2]), int(inputs.shape[-1]))
                for s, rec in enumerate(recorders):
                    if rec.m:
                        shapes[s] = tuple(rec.m[-1].shape[-2:])
                    per_face[s] += rec.faces(hw, keypoints, radius)
    finally:
        for rec in recorders:
            rec.remove()
        model.eval()
    out = []
    for s, (gate, rec, faces) in enumerate(zip(gates, recorders, per_face, strict=True)):
        row: dict = dict(stage=s + 1, form=rec.form, faces=len(faces))
        if isinstance(gate, FixedGain):
            row.update(gain=gate.gain, contrast_m=None, contrast_gain=1.0)
        elif shapes[s] is not None:
            h, w = shapes[s]
            stride = hw[0] / h
            row.update(size=[h, w], stride=stride, radius_cells=round(radius / stride, 3))
            for key in ("gain", "mean_m", "dead", "contrast_m", "contrast_gain"):
                row[key] = round(float(np.mean([f[key] for f in faces])), 4)
            ratios = [f["near_far"] for f in faces if "near_far" in f]
            row["near_far"] = round(float(np.mean(ratios)), 4) if ratios else None
            row["near_far_faces"] = len(ratios)
        out.append(row)
    return out


def evaluation_faces(cfg, root: Path | None, limit: int | None = None,
                     ) -> tuple[object, list[int]]:
    """The config's test dataset (from ``root`` when given), ground-truth boxes and its test
    pipeline, packing each face's landmarks in input pixels; and the indices to read."""
    from mmengine.registry import init_default_scope
    from mmpose.registry import DATASETS

    import aan_components.plugin  # noqa: F401

    init_default_scope("mmpose")
    dataset_cfg = cfg.test_dataloader.dataset.copy()
    if root is not None:
        dataset_cfg["data_root"] = f"{root}/"
    pipeline = [dict(t) for t in dataset_cfg["pipeline"]]
    for t in pipeline:
        if t["type"] == "PackPoseInputs":
            t["pack_transformed"] = True
    dataset_cfg["pipeline"] = pipeline
    dataset = DATASETS.build(dataset_cfg)
    count = len(dataset) if limit is None else min(limit, len(dataset))
    return dataset, list(range(count))


def batches_of(model: nn.Module, dataset, indices: list[int], batch_size: int,
               progress: bool = True) -> Iterator[tuple[torch.Tensor, list[np.ndarray]]]:
    """``(inputs, keypoints in input pixels)`` batches through the model's data
    preprocessor."""
    from mmengine.dataset import pseudo_collate
    from tqdm import tqdm

    steps = range(0, len(indices), batch_size)
    for start in tqdm(steps, desc="gate_stats", unit="batch", disable=not progress):
        items = [dataset[i] for i in indices[start:start + batch_size]]
        data = model.data_preprocessor(pseudo_collate(items), training=False)
        keypoints = [np.asarray(d.gt_instances.transformed_keypoints[0][:, :2], np.float64)
                     for d in data["data_samples"]]
        yield data["inputs"], keypoints


def init_model(config: Path, seed: int):
    """``config``'s network as ``mim train`` builds and initialises it with ``seed``."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS

    import aan_components.plugin  # noqa: F401

    init_default_scope("mmpose")
    cfg = Config.fromfile(str(config))
    torch.manual_seed(seed)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return cfg, model.eval()


def work_dir_model(work_dir: Path) -> tuple[Path, Path]:
    """The config ``mim train`` dumped into ``work_dir`` and its last checkpoint."""
    configs = sorted(work_dir.glob("*.py"))
    if len(configs) != 1:
        raise SystemExit(f"{work_dir}: expected the one config mim train dumps there, found "
                         f"{[c.name for c in configs]}")
    last = work_dir / "last_checkpoint"
    if last.is_file():
        checkpoint = Path(last.read_text().strip())
        checkpoint = checkpoint if checkpoint.is_absolute() else work_dir / checkpoint.name
    else:
        found = sorted(work_dir.glob("iter_*.pth"), key=lambda p: int(p.stem.split("_")[1]))
        if not found:
            raise SystemExit(f"{work_dir}: no checkpoint (an unfinished run?)")
        checkpoint = found[-1]
    return configs[0], checkpoint


def shown(path: Path) -> str:
    """A work dir or checkpoint as recorded: from its ``work_dirs/`` on (the checkout it ran
    in is not this one's)."""
    parts = Path(path).resolve().parts
    if "work_dirs" in parts:
        return str(Path(*parts[parts.index("work_dirs"):]))
    return repo_relative(str(path))


def measure(label: str, cfg, model, root: Path | None, args, train_bn: bool = False,
            **facts) -> dict:
    from aan_core.network.attention_spec import attention_name, legacy_attention

    dataset, indices = evaluation_faces(cfg, root, args.limit)
    batch = int(cfg.train_dataloader.batch_size) if train_bn else args.batch_size
    stages = gate_statistics(model, batches_of(model, dataset, indices, batch), args.radius,
                             train_bn=train_bn)
    backbone = cfg.model.backbone
    form = attention_name(legacy_attention(backbone.get("attention", "aan"),
                                           backbone.get("attention_relu")))
    return dict(label=label, attention=form,
                bn="batch" if train_bn else "running", faces=len(indices),
                ann_file=cfg.test_dataloader.dataset.ann_file, stages=stages, **facts)


def draw(cfg, checkpoint: Path, root: Path, out: Path, faces: int) -> None:
    """The ``aan attention`` figure of the first ``faces`` test faces of ``cfg`` (a dumped
    config's ``Config``; ground-truth boxes), at the crops' own size (a small PNG to commit)."""
    import cv2

    from aan_components.inference import LandmarkPredictor
    from aan_components.inference.attention_figure import attention_figure
    from aan_components.visualization import save_png, with_caption

    dataset = cfg.test_dataloader.dataset
    images_dir = root / dataset.get("data_prefix", {}).get("img", "")
    data = json.loads((root / dataset.ann_file).read_text())
    items = []
    images = {im["id"]: im for im in data["images"]}
    for ann in data["annotations"][:faces]:
        image = images[ann["image_id"]]
        x, y, w, h = ann["bbox"]
        img = cv2.imread(str(images_dir / image["file_name"]))
        items.append((image["file_name"], img, np.array([[x, y, x + w, y + h]], np.float32)))
    predictor = LandmarkPredictor(cfg, str(checkpoint), batch_size=faces, optimize=False)
    grid = attention_figure(predictor, iter(items), faces)
    grid = cv2.resize(grid, (grid.shape[1] // 2, grid.shape[0] // 2), interpolation=cv2.INTER_AREA)
    grid = grid // 8 * 8  # 32 levels a channel: a third of the PNG's size, unseen in a heat map
    out.parent.mkdir(parents=True, exist_ok=True)
    save_png(str(out), with_caption(grid, "input, then M by stage (own range)"))
    print(f"[bench] wrote {out}")


def _cell(value, fmt: str) -> str:
    return "" if value is None else format(value, fmt)


def results_markdown(payload: dict) -> str:
    """One row per model and stage."""
    rows = []
    for model in payload.get("models", []):
        for st in model["stages"]:
            size = st.get("size")
            rows.append(dict(
                model=f"{model['label']} ({model['bn']} BN)" if model.get("state") == "init"
                else model["label"],
                form=st["form"], stage=str(st["stage"]),
                map=f"{size[0]}x{size[1]}, {st['stride']:g} px, r = {st['radius_cells']:g}"
                if size else "",
                gain=_cell(st.get("gain"), ".3f"), mean_m=_cell(st.get("mean_m"), ".3f"),
                dead="" if st.get("dead") is None else f"{100 * st['dead']:.1f}",
                cm=_cell(st.get("contrast_m"), ".3f"), cg=_cell(st.get("contrast_gain"), ".3f"),
                nf="" if st.get("near_far") is None else
                f"{st['near_far']:.3f} ({st['near_far_faces']})"))
    table = markdown_table(rows, [
        ("model", "model"), ("form", "form"), ("stage", "stage"),
        ("map", "map, px a cell, radius in cells"), ("gain", "mean gain F/H"),
        ("mean_m", "mean M"),
        ("dead", "ReLU dead %"), ("cm", "M p95/p5"), ("cg", "gain p95/p5"),
        ("nf", "M near / far landmarks (faces)")])
    models = payload.get("models", [])
    sources = "; ".join(
        f"`{m['label']}`: " + (f"`{m['config']}` seed {m['seed']} at initialisation"
                               if m.get("state") == "init" else
                               f"`{m['checkpoint']}` ({m.get('iterations')} iterations)")
        for m in models if m.get("bn") != "batch")
    faces = sorted({m["faces"] for m in models})
    return "\n\n".join([
        f"Per stage, on {', '.join(map(str, faces))} faces of 300W common "
        f"(`{models[0]['ann_file'] if models else ''}`, ground-truth boxes, the config's test "
        f"pipeline, fp32). Near a landmark: a map cell whose footprint in the input crop comes "
        f"within r = {payload.get('radius_px'):g} input px of one (r in cells per stage "
        f"below). Contrast: each face's p95 / p5, averaged over faces; near / far: each face's "
        f"mean M near the landmarks over its mean M elsewhere, averaged over the faces with "
        f"both. `fixed-gain` has no map: a constant gain. At initialisation: BatchNorm on "
        f"its initial running statistics (`running`), and on each batch of "
        f"{payload.get('init_batch')} faces as in the first training step (`batch`).",
        table, f"Models: {sources}.",
        f"Command: `{payload.get('command', '')}`. {payload.get('machine', '')}"])


def main(argv: list[str] | None = None) -> None:
    from mmengine.config import Config

    parser = BenchParser(__doc__, TOOL, results_markdown, root=ROOT_HELP, root_required=True)
    parser.add_argument("--work-dirs", type=Path, nargs="*", default=[],
                        help="mim train work dirs (their dumped config, last checkpoint)")
    parser.add_argument("--init-config", type=Path, default=None,
                        help="also measure this config's network at initialisation")
    parser.add_argument("--init-seed", type=int, default=0)
    parser.add_argument("--radius", type=float, default=RADIUS_PX,
                        help=f"near a landmark, in input pixels (default {RADIUS_PX:g})")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--limit", type=int, default=None, help="first N test faces only")
    parser.add_argument("--figures", type=Path, default=None,
                        help="folder for one attention figure per trained model with a map")
    parser.add_argument("--figure-faces", type=int, default=4)
    args = parser.parse_args(argv)
    root = args.root.resolve()
    previous = json.loads(args.out.read_text()) if args.out.is_file() else {}
    models = {(m["label"], m["bn"]): m for m in previous.get("models", [])}
    init_batch = previous.get("init_batch")
    if args.init_config is not None:
        config = args.init_config if args.init_config.is_absolute() else REPO / args.init_config
        label = f"init, seed {args.init_seed}"
        for train_bn in (False, True):
            cfg, model = init_model(config, args.init_seed)
            init_batch = int(cfg.train_dataloader.batch_size)
            m = measure(label, cfg, model, root, args, train_bn=train_bn, state="init",
                        config=repo_relative(str(config)), seed=args.init_seed, iterations=0)
            models[(label, m["bn"])] = m
    for work_dir in args.work_dirs:
        from aan_components.inference.model_loading import load_pose_model

        config, checkpoint = work_dir_model(work_dir)
        cfg = Config.fromfile(str(config))
        model = load_pose_model(cfg, str(checkpoint))
        m = measure(work_dir.name, cfg, model, root, args, state="trained",
                    checkpoint=shown(checkpoint), seed=cfg.get("randomness", {}).get("seed"),
                    iterations=int(cfg.train_cfg.max_iters))
        models[(work_dir.name, m["bn"])] = m
        if args.figures and any(st.get("size") for st in m["stages"]):
            draw(cfg, checkpoint, root, args.figures / f"{work_dir.name}.png",
                 args.figure_faces)
    payload = dict(
        benchmark=TOOL, radius_px=args.radius, init_batch=init_batch,
        models=sorted(models.values(), key=lambda m: (m.get("state") != "init", m["label"],
                                                      m["bn"])),
        command=f"python -m bench.{TOOL} --300w-root DIR --work-dirs WORK_DIR ... "
                f"--init-config {args.init_config or 'mm_configs/aan_300w_cpu.py'} "
                f"--figures {repo_relative(str(args.figures)) if args.figures else 'DIR'}",
        machine=machine_text(), environment=environment(),
        protocol=__doc__.split("\n\n    python")[0])
    if any(not math.isfinite(st.get("gain") or 0) for m in payload["models"]
           for st in m["stages"]):
        raise SystemExit("a gain is not finite: nothing written")
    write_json(args.out, payload, TOOL, results_markdown)
    print(results_markdown(payload))


if __name__ == "__main__":
    main()
