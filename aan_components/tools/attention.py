"""Draw each stage's attention map over given faces (the paper's Fig. 4).

One column per face: the network's input crop on top, then one row per attention stage,
shallow (local parts) to deep (the whole face). Works with ``AANBackbone`` and
``TimmAttentionBackbone`` models. Faces: ``--boxes`` as for ``aan predict``, else each whole
image.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np

from ..inference import BoxFileError, LandmarkPredictor, read_face_boxes
from ..inference.media_sources import MediaError, iter_images, list_images
from ..visualization import attention_grid, save_png, with_caption


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="MMPose config of an AAN model")
    parser.add_argument("checkpoint", help="checkpoint (.pth), loaded safely")
    parser.add_argument("inputs", nargs="+", help="images or folders of images")
    parser.add_argument("--out", default="attention_maps.png", help="output PNG")
    parser.add_argument("--boxes", help="face boxes: .json or .csv (default: whole image)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--max-faces", type=int, default=12, help="columns of the figure")


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
                raise MediaError("the model's attention is switched off (attention=False): "
                                 "there are no maps to draw")
            crops.append(np.ascontiguousarray(crop.astype(np.uint8)))
            maps.append(stage_maps)
        if len(crops) >= max_faces:
            break
    if not crops:
        raise MediaError("no faces to draw")
    crops, maps = crops[:max_faces], maps[:max_faces]
    per_stage = [np.stack([m[s] for m in maps]) for s in range(len(maps[0]))]
    return attention_grid(crops, per_stage)


def run(args: argparse.Namespace) -> None:
    try:
        boxes = read_face_boxes(args.boxes) if args.boxes else None
        # lazily: only the images of the first max_faces faces are read
        items = itertools.chain.from_iterable(
            iter_images(list_images(inp), inp, boxes) for inp in map(Path, args.inputs))
        predictor = LandmarkPredictor(args.config, args.checkpoint, args.device,
                                      batch_size=args.max_faces)
        grid = attention_figure(predictor, items, args.max_faces)
    except (BoxFileError, MediaError) as e:
        print(f"aan attention: error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    save_png(args.out, with_caption(grid, "attention maps: input, then stages shallow -> deep"))
    print(f"aan attention: {args.out}")
