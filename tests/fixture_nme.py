"""NME by hand on the real fixture faces: the predictions a run's evaluation saw, the ground
truth and the normaliser read straight from the annotation json (not through MMPose)."""

from __future__ import annotations

import json
import math
from pathlib import Path


def record_predictions(loop) -> list[dict]:
    """Make the first metric of an mmengine ``loop`` (a runner's ``test_loop`` or
    ``val_loop``) keep a copy of every sample it processes; returns that growing list."""
    metric = loop.evaluator.metrics[0]
    seen: list[dict] = []
    process = metric.process

    def recording(data_batch, data_samples):
        seen.extend(data_samples)
        process(data_batch, data_samples)

    metric.process = recording
    return seen


def hand_nme(samples: list[dict], ann_file: str | Path, norm: str) -> float:
    """Mean over images of the mean point error over the labelled points, divided by
    ``norm``: ``'inter_ocular'`` (points 36 and 45), ``'eye_centres'`` (points 0 and 1) or
    ``'box_size'`` (the annotation's ``box_size``). Plain loops, one face per image."""
    data = json.loads(Path(ann_file).read_text())
    names = {im["id"]: im["file_name"] for im in data["images"]}
    by_name = {names[a["image_id"]]: a for a in data["annotations"]}
    per_image = []
    for sample in samples:
        (name,) = [n for n in by_name if sample["img_path"].endswith("/" + n)
                   or sample["img_path"] == n]
        ann = by_name[name]
        values = ann["keypoints"]
        gt = [(values[i], values[i + 1]) for i in range(0, len(values), 3)]
        labelled = [values[i + 2] > 0 for i in range(0, len(values), 3)]
        pred = [tuple(map(float, p)) for p in sample["pred_instances"]["keypoints"][0]]
        if norm == "box_size":
            d = ann["box_size"]
        else:
            a, b = (36, 45) if norm == "inter_ocular" else (0, 1)
            d = math.dist(gt[a], gt[b])
        errors = [math.dist(p, g) / d for p, g, v in zip(pred, gt, labelled, strict=True) if v]
        per_image.append(sum(errors) / len(errors))
    return sum(per_image) / len(per_image)
