"""``aan demo``: train AAN on synthetic faces on the CPU for a bounded time, test it, and
leave metrics, a CED plot, a prediction grid (Fig. 3) and attention maps (Fig. 4)."""

from __future__ import annotations

import argparse
import json
import os.path as osp
import time
from pathlib import Path

import numpy as np
import torch
from mmengine.dataset import pseudo_collate
from mmengine.runner import Runner

from aan_core.evaluation.face_metrics import per_image_nme
from aan_core.utils.atomic_io import atomic_write
from aan_core.utils.image_file import read_image

from .. import config_path, setup
from ..config_file import read_config, require_fields
from ..visualization import attention_grid, draw_landmarks, image_grid, save_png, with_caption
from .argument_types import ConfigOptions, positive_float, positive_int
from .check import check_config

DEFAULT_CONFIG = config_path("aan_synthetic")  # shipped in the package: found from a wheel too


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default=str(DEFAULT_CONFIG),
                        help="MMPose config (default: the shipped aan_synthetic.py)")
    parser.add_argument("--work-dir", default="work_dirs/aan_synthetic_demo",
                        help="where checkpoints, logs, metrics and figures go")
    parser.add_argument("--minutes", type=positive_float, default=7.0,
                        help="wall-clock training budget (the test and figures come after)")
    parser.add_argument("--iters", type=positive_int, default=None,
                        help="iteration budget (default: the config's max_iters)")
    parser.add_argument("--num-figures", type=positive_int, default=16,
                        help="faces in the prediction and attention figures")
    parser.add_argument("--cfg-options", nargs="+", action=ConfigOptions, default={},
                        help="config overrides, as in mim train")


def _batches(dataset, indices, size: int = 32):
    for start in range(0, len(indices), size):
        yield pseudo_collate([dataset[i] for i in indices[start:start + size]])


# What the synthetic NMEs average over (said beside every synthetic number)
SYNTHETIC_NME_POINTS = ("visible points only: self-occluded points (the far side of a turned "
                        "head) and points outside the image are left out")


def mean_shape_nme(runner: Runner, train_samples: int = 2000) -> float:
    """Test NME of predicting the mean training shape (in crop coordinates) for every face:
    the baseline a trained model must clearly beat."""
    train_ds = runner.train_dataloader.dataset
    n = min(train_samples, len(train_ds))
    labels = [train_ds[i]["data_samples"].gt_instance_labels.keypoint_labels[0].numpy()
              for i in range(n)]
    mean = np.mean(labels, axis=0)  # (K, 2) in [0, 1] crop coordinates
    metric = runner.test_evaluator.metrics[0]
    test_ds = runner.test_dataloader.dataset
    boxes = [] if metric.norm_mode in ("box_size", "box_area") else None
    preds, gts, vis = [], [], []
    for i in range(len(test_ds)):
        sample = test_ds[i]["data_samples"]
        centre = np.asarray(sample.metainfo["input_center"], np.float64)
        scale = np.asarray(sample.metainfo["input_scale"], np.float64)
        preds.append(centre + (mean - 0.5) * scale)
        gts.append(np.asarray(sample.gt_instances.keypoints[0]))
        v = np.asarray(sample.gt_instances.keypoints_visible[0], np.float64)
        vis.append(v[..., 0] if v.ndim == 2 else v)
        if boxes is not None:
            boxes.append(metric.box_size(sample))
    gt = np.stack(gts)
    return float(np.nanmean(per_image_nme(np.stack(preds), gt, np.stack(vis),
                                          metric.normalisation(gt, boxes))))


@torch.no_grad()
def draw_figures(runner: Runner, out_dir: Path, num: int) -> dict[str, str]:
    """Fig. 3 (predictions vs ground truth on test faces) and Fig. 4 (attention maps)."""
    model = runner.model.eval()
    dataset = runner.test_dataloader.dataset
    indices = list(range(min(num, len(dataset))))
    faces, crops, maps = [], [], []
    for batch in _batches(dataset, indices):
        for sample in model.test_step(batch):
            info = dataset.get_data_info(sample.metainfo.get("id", len(faces)))
            image = info["img"] if "img" in info else read_image(info["img_path"])
            faces.append(draw_landmarks(image, sample.pred_instances.keypoints[0],
                                        sample.gt_instances.keypoints[0]))
        if model.test_cfg.get("flip_test", False):  # the last forward was the flipped one
            model.extract_feat(model.data_preprocessor(batch, training=False)["inputs"])
        stage_maps = getattr(model.backbone, "attention_maps", ())
        if stage_maps and all(m is not None for m in stage_maps):
            maps.append([m[:, 0].cpu().numpy() for m in stage_maps])
        crops.extend(x.permute(1, 2, 0).numpy().copy() for x in batch["inputs"])
    out = {}
    cols = int(np.ceil(np.sqrt(len(faces))))
    out["predictions"] = str(out_dir / "predictions.png")
    save_png(out["predictions"], with_caption(image_grid(faces, cols=cols),
                                              "green: ground truth   red: prediction"))
    if maps:
        per_stage = [np.concatenate([b[s] for b in maps]) for s in range(len(maps[0]))]
        show = min(8, len(crops))
        out["attention"] = str(out_dir / "attention_maps.png")
        grid = attention_grid(crops[:show], [m[:show] for m in per_stage])
        save_png(out["attention"], with_caption(
            grid, f"faces, then the attention map of stages 1-{len(per_stage)} (shallow to deep)"))
    return out


def run(args: argparse.Namespace) -> dict:
    setup()  # what the shipped config's custom_imports does, for any --config too
    # what aan check finds (a field that builds no model, a dataset of other keypoints, a
    # malformed annotation file) is named now, in one line, not after training
    check_config(args.config, args.cfg_options)
    cfg = read_config(args.config, args.cfg_options)
    require_fields(cfg, args.config, "model", "train_dataloader.dataset",
                   "test_dataloader.dataset", "train_cfg")
    cfg.work_dir = osp.abspath(args.work_dir)
    if args.iters is not None:
        cfg.train_cfg.max_iters = args.iters
        cfg.train_cfg.val_interval = args.iters
    hooks = [h for h in cfg.get("custom_hooks", []) if h.get("type") != "TimeBudgetHook"]
    cfg.custom_hooks = hooks + [dict(type="TimeBudgetHook", max_seconds=args.minutes * 60)]
    # evaluation happens once, in the test below
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None

    runner = Runner.from_cfg(cfg)
    start = time.perf_counter()
    runner.train()
    train_seconds = time.perf_counter() - start
    metrics = runner.test()
    out_dir = Path(runner.log_dir)
    baseline = mean_shape_nme(runner)
    figures = draw_figures(runner, out_dir, args.num_figures)
    summary = dict(
        config=str(args.config), work_dir=cfg.work_dir, iterations=runner.iter,
        train_seconds=round(train_seconds, 1),
        train_images_per_second=round(runner.iter * cfg.train_dataloader.batch_size
                                      / train_seconds, 1),
        test_metrics={k: round(float(v), 5) for k, v in metrics.items()},
        nme_points=SYNTHETIC_NME_POINTS,
        mean_shape_nme=round(baseline, 5),
        checkpoint=str(Path(cfg.work_dir) / f"iter_{runner.iter}.pth"),
        ced_png=str(out_dir / "ced.png"), ced_csv=str(out_dir / "ced.csv"),
        per_image_nme_csv=str(out_dir / "per_image_nme.csv"), **figures)
    path = out_dir / "summary.json"
    atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(summary, indent=2)))
    summary["summary"] = str(path)
    _print(summary)
    return summary


def compared_to_baseline(nme: float, baseline: float) -> str:
    """``'3.1x lower'`` when the model beats the mean shape, ``'1.7x higher'`` when not."""
    if not (nme > 0 and baseline > 0):
        return "not comparable"
    if nme <= baseline:
        return f"{baseline / nme:.1f}x lower"
    return f"{nme / baseline:.1f}x higher: worse than the mean shape, train longer"


def _print(s: dict) -> None:
    nme = s["test_metrics"]["NME"]
    print("\n[aan demo] done")
    print(f"  trained {s['iterations']} iterations in {s['train_seconds']:.0f} s "
          f"({s['train_images_per_second']} images/s)")
    print(f"  test NME (inter-ocular, per image): {nme * 100:.2f}%   mean-shape baseline: "
          f"{s['mean_shape_nme'] * 100:.2f}%   ({compared_to_baseline(nme, s['mean_shape_nme'])})")
    print(f"  NME over {s['nme_points']}")
    for k, v in s["test_metrics"].items():
        if k != "NME":
            print(f"  {k}: {v:.4f}")
    for key in ("summary", "checkpoint", "ced_png", "ced_csv", "per_image_nme_csv",
                "predictions", "attention"):
        if key in s:
            print(f"  {key:18s} {s[key]}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="aan demo", description=__doc__)
    add_arguments(parser)
    run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
