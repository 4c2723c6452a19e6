"""The paper's Fig. 4 for a predictor's model: each stage's attention map over faces (what
``aan attention`` draws; ``bench.gate_stats`` draws it for the checkpoints it measures)."""

from __future__ import annotations

import numpy as np

from ..visualization import attention_grid
from .landmark_predictor import LandmarkPredictor
from .media_sources import MediaError

__all__ = ["attention_figure"]


def attention_figure(predictor: LandmarkPredictor, items, max_faces: int) -> np.ndarray:
    """The Fig. 4 grid for the faces of ``items`` (``(name, image, boxes)``)."""
    backbone = predictor.model.backbone
    if not hasattr(backbone, "attention_maps"):
        raise MediaError(f"the model's backbone {type(backbone).__name__} has no attention "
                         f"maps (use an AAN or timm-attention config)")
    predictor.keep_crops = predictor.keep_attention = True
    crops: list[np.ndarray] = []
    maps: list[list[np.ndarray]] = []
    for result in predictor.predict(items):
        for crop, stage_maps in zip(result.crops, result.attention, strict=True):
            if not stage_maps:
                raise MediaError("the model's attention form has no spatial map "
                                 "(e.g. attention='none'): there are no maps to draw")
            crops.append(np.ascontiguousarray(crop.astype(np.uint8)))
            maps.append(stage_maps)
        if len(crops) >= max_faces:
            break
    if not crops:
        raise MediaError("no faces to draw")
    crops, maps = crops[:max_faces], maps[:max_faces]
    per_stage = [np.stack([m[s] for m in maps]) for s in range(len(maps[0]))]
    return attention_grid(crops, per_stage)
