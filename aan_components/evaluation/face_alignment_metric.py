"""``FaceAlignmentMetric``: per-image NME, CED curve (PNG + CSV), AUC and failure rate."""

from __future__ import annotations

import csv
import json
import os.path as osp
import re
from collections.abc import Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger
from mmpose.registry import METRICS

from aan_core.evaluation.face_metrics import (
    NORM_MODES,
    ced_curve,
    failure_rate,
    normalisation_distance,
    per_image_nme,
)
from aan_core.evaluation.face_protocols import subset_patterns
from aan_core.utils.atomic_io import atomic_write

from ..visualization import save_ced_plot

# Named subsets, each a regex searched in the image path (``subsets='300w'`` in a config).
SUBSET_PRESETS = {name: subset_patterns(name) for name in ("300w", "300vw")}
METRICS_FILE = "face_alignment_metrics.json"


@METRICS.register_module()
class FaceAlignmentMetric(BaseMetric):
    """Face-alignment evaluation as face papers report it.

    - ``NME``: per-image NME (mean over the image's visible points), averaged over images.
      MMPose's ``NME`` instead averages over all visible points of all images at once.
    - ``AUC@t`` and ``FR@t`` for each ``t`` in ``thresholds``: area under the CED up to
      ``t`` (normalised to 1) and the fraction of images with NME > ``t``.
    - The CED curve is saved as ``ced.png`` and ``ced.csv``, and the per-image NMEs as
      ``per_image_nme.csv``, in ``out_dir`` (default: the run's log folder), with all
      metrics in ``face_alignment_metrics.json`` (read by ``aan tables``).
    - Subsets (``subsets``): the same metrics again for each named subset of the test
      images, as ``NME/<name>``, ``AUC@t/<name>``, ``FR@t/<name>``: 300W's common and
      challenging sets, or 300VW's three categories, from one run on the full set.

    Args:
        norm_mode: ``'inter_ocular'`` (distance of two points, by default the outer eye
            corners), ``'inter_pupil'`` (distance of the eye centres, each the mean of an
            eye's points), ``'box_size'`` (the annotation's ``box_size``, AFLW's protocol:
            ``AFLWDataset`` reads it in test mode and ``PackPoseInputs`` must pack it, e.g.
            ``meta_keys=(..., 'box_size')`` as the paper configs do; a sample without it is
            an error, never a silent fallback) or ``'box_area'`` (``sqrt(w * h)`` of the
            packed face box ``gt_instances.bboxes``; for MMPose's AFLW json that is the
            square box built from center/scale, not the annotation's box).
        norm_indices: For ``inter_ocular``: two point indices; for ``inter_pupil``: two
            lists of indices. ``None`` takes the dataset's defaults.
        thresholds: NME thresholds for AUC and failure rate.
        ced_max: Right end of the saved CED curve.
        subsets: ``{name: regex}`` searched in each image path, or a preset name:
            ``'300w'`` (common = HELEN/LFPW test, challenging = iBUG) or ``'300vw'``
            (category1-3 by video number). ``None``: no subsets.
        out_dir: Folder for the CED and per-image files; ``None`` uses the log folder of
            the current run (no files when there is none).
        collect_device / prefix: as in mmengine's ``BaseMetric``.
    """

    default_prefix = None

    def __init__(self, norm_mode: str = "inter_ocular", norm_indices: Sequence | None = None,
                 thresholds: Sequence[float] = (0.08, 0.10), ced_max: float = 0.15,
                 out_dir: str | None = None, subsets: str | dict[str, str] | None = None,
                 collect_device: str = "cpu", prefix: str | None = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if norm_mode not in NORM_MODES:
            raise ValueError(
                f"FaceAlignmentMetric.norm_mode must be one of {NORM_MODES}, got {norm_mode!r}")
        self.norm_mode = norm_mode
        self.norm_indices = norm_indices
        self.thresholds = tuple(float(t) for t in thresholds)
        self.ced_max = max(ced_max, *self.thresholds)
        self.out_dir = out_dir
        if isinstance(subsets, str):
            if subsets not in SUBSET_PRESETS:
                raise ValueError(f"FaceAlignmentMetric.subsets: unknown preset {subsets!r}; "
                                 f"use one of {sorted(SUBSET_PRESETS)} or a dict name -> regex")
            subsets = SUBSET_PRESETS[subsets]
        self.subsets = {}
        for name, pattern in (subsets or {}).items():
            try:
                self.subsets[name] = re.compile(pattern)
            except re.error as e:
                raise ValueError(f"FaceAlignmentMetric.subsets[{name!r}]: bad regex "
                                 f"{pattern!r}: {e}") from None

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            gt = sample["gt_instances"]
            visible = np.asarray(gt["keypoints_visible"], np.float64)
            if visible.ndim == 3:
                visible = visible[..., 0]
            result = dict(pred=np.asarray(sample["pred_instances"]["keypoints"])[:1],
                          gt=np.asarray(gt["keypoints"])[:1], visible=visible[:1],
                          img_path=sample.get("img_path"))
            if self.norm_mode in ("box_size", "box_area"):
                result["box"] = self.box_size(sample)
            self.results.append(result)

    def box_size(self, sample) -> float:
        """The normalising size of one packed sample (a dict or a ``PoseDataSample``):
        its ``box_size`` (packed as meta key, or in ``gt_instances``) for ``'box_size'``,
        ``sqrt(w * h)`` of ``gt_instances.bboxes`` for ``'box_area'``.

        Raises:
            ValueError: ``'box_size'`` and the sample carries none (naming the image and
                how to pack it).
        """
        if not isinstance(sample, dict):
            sample = sample.to_dict()
        gt = sample["gt_instances"]
        if self.norm_mode == "box_area":
            x1, y1, x2, y2 = np.asarray(gt["bboxes"]).reshape(-1, 4)[0]
            return float(np.sqrt(max(x2 - x1, 0) * max(y2 - y1, 0)))
        size = sample.get("box_size", gt.get("box_size"))
        if size is None:
            raise ValueError(
                f"FaceAlignmentMetric(norm_mode='box_size'): sample {sample.get('img_path')!r} "
                f"has no 'box_size'; the annotation must have one (AFLWDataset reads it in "
                f"test_mode) and the pipeline must pack it: PackPoseInputs(meta_keys=(..., "
                f"'box_size')); use norm_mode='box_area' for sqrt(w * h) of the face box")
        return float(np.asarray(size).reshape(-1)[0])

    def normalisation(self, gt: np.ndarray, box_sizes=None) -> np.ndarray:
        """Per-image normalisation distance, :math:`(N,)`, of ground truth ``(N, K, 2)``
        (:func:`~aan_core.evaluation.face_metrics.normalisation_distance` with this metric's
        settings and dataset); ``box_sizes`` (each :meth:`box_size`) for ``box_size`` /
        ``box_area``.
        """
        name = (self.dataset_meta or {}).get("dataset_name", "")
        try:
            return normalisation_distance(gt, self.norm_mode, name, self.norm_indices,
                                          box_sizes)
        except ValueError as e:
            raise ValueError(f"FaceAlignmentMetric: {e} in the evaluator config") from None

    def compute_metrics(self, results: list) -> dict[str, float]:
        logger = MMLogger.get_current_instance()
        pred = np.concatenate([r["pred"] for r in results])
        gt = np.concatenate([r["gt"] for r in results])
        visible = np.concatenate([r["visible"] for r in results])
        boxes = [r["box"] for r in results] if "box" in results[0] else None
        nmes = per_image_nme(pred, gt, visible, self.normalisation(gt, boxes))
        bad = int(np.isnan(nmes).sum())
        if bad:
            logger.warning(f"FaceAlignmentMetric: {bad} of {len(nmes)} images have no visible "
                           f"point or a zero normalisation distance; they are left out")
        img_paths = [r["img_path"] or "" for r in results]
        metrics, ced = self.summarise(nmes)
        curves = {"all": ced}
        counts = {"all": int(np.isfinite(nmes).sum())}
        for name, pattern in self.subsets.items():
            member = np.array([bool(pattern.search(p)) for p in img_paths])
            if not member.any():
                logger.warning(f"FaceAlignmentMetric: subset {name!r} matches none of the "
                               f"{len(img_paths)} test images (pattern {pattern.pattern!r})")
                continue
            sub, curves[name] = self.summarise(nmes[member])
            metrics.update({f"{k}/{name}": v for k, v in sub.items()})
            counts[name] = int(np.isfinite(nmes[member]).sum())
        out_dir = self.out_dir or (osp.dirname(logger.log_file)
                                   if getattr(logger, "log_file", None) else None)
        if out_dir:
            self.save_outputs(out_dir, nmes, curves, img_paths, metrics, counts)
            logger.info(f"FaceAlignmentMetric: CED curve and per-image NME saved in {out_dir}")
        return metrics

    def summarise(self, nmes: np.ndarray):
        """``({NME, AUC@t, FR@t}, CED curve)`` of per-image NMEs."""
        ced = ced_curve(nmes, self.ced_max)
        metrics = {"NME": float(np.nanmean(nmes))}
        for t in self.thresholds:
            metrics[f"AUC@{t:g}"] = ced.auc(t)
            metrics[f"FR@{t:g}"] = failure_rate(nmes, t)
        return metrics, ced

    def save_outputs(self, out_dir: str, nmes, curves, img_paths, metrics, counts) -> None:
        """Write ``ced.csv``, ``ced.png``, ``per_image_nme.csv`` and the metrics json
        atomically; ``curves`` maps ``'all'`` and each subset to its CED."""

        def ced_csv(path):
            with open(path, "w", newline="") as f:
                w = csv.writer(f)
                w.writerow(["nme_threshold", *(f"fraction_of_images/{n}" if n != "all"
                                               else "fraction_of_images" for n in curves)])
                first = curves["all"]
                w.writerows(zip(np.round(first.thresholds, 6),
                                *(np.round(c.fractions, 6) for c in curves.values()),
                                strict=True))

        def metrics_json(path):
            meta = self.dataset_meta or {}
            with open(path, "w") as f:
                json.dump(dict(dataset_name=meta.get("dataset_name"), norm_mode=self.norm_mode,
                               prefix=self.prefix,
                               num_images=counts, metrics=metrics), f, indent=1)

        def per_image_csv(path):
            with open(path, "w", newline="") as f:
                w = csv.writer(f)
                w.writerow(["index", "img_path", "nme"])
                w.writerows((i, p, f"{n:.6f}") for i, (p, n) in
                            enumerate(zip(img_paths, nmes, strict=True)))

        # two metrics in one evaluator (e.g. inter-ocular and inter-pupil) keep their own files
        tag = f"_{self.prefix}" if self.prefix else ""
        atomic_write(osp.join(out_dir, f"ced{tag}.csv"), ced_csv)
        atomic_write(osp.join(out_dir, f"per_image_nme{tag}.csv"), per_image_csv)
        labels = {}
        for name in curves:
            suffix = "" if name == "all" else f"/{name}"
            labels[name] = f"{name} ({counts[name]}): NME {metrics['NME' + suffix] * 100:.2f}%"
            if self.thresholds:
                t = self.thresholds[-1]
                labels[name] += (f", AUC@{t:g} {metrics[f'AUC@{t:g}{suffix}']:.3f}, FR@{t:g} "
                                 f"{metrics[f'FR@{t:g}{suffix}'] * 100:.1f}%")
        save_ced_plot(osp.join(out_dir, f"ced{tag}.png"), curves, labels, self.thresholds,
                      f"NME ({self.norm_mode})", self.ced_max)
        atomic_write(osp.join(out_dir, METRICS_FILE.replace(".json", f"{tag}.json")),
                     metrics_json)
