"""Draw each stage's attention map over given faces (the paper's Fig. 4).

One column per face: the network's input crop on top, then one row per attention stage,
shallow (local parts) to deep (the whole face). Works with ``AANBackbone`` and
``TimmAttentionBackbone`` models. Faces: ``--boxes`` as for ``aan predict``, else each whole
image.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np

from ..inference import LandmarkPredictor, read_face_boxes
from ..inference.media_sources import (
    MediaError,
    check_boxes,
    check_output_outside_inputs,
    iter_images,
    list_images,
)
from ..visualization import attention_grid, save_png, with_caption
from .argument_types import positive_int
from .predict import whole_image_note


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="MMPose config of an AAN model")
    parser.add_argument("checkpoint", help="checkpoint (.pth), loaded safely")
    parser.add_argument("inputs", nargs="+", help="images or folders of images")
    parser.add_argument("--out", default="attention_maps.png", help="output PNG")
    parser.add_argument("--boxes", help="face boxes: .json or .csv (default: whole image)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1... (default cpu)")
    parser.add_argument("--max-faces", type=positive_int, default=12,
                        help="columns of the figure")
    parser.add_argument("--allow-partial", action="store_true",
                        help="load a checkpoint that does not fit the config (what fits)")


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


def run(args: argparse.Namespace) -> None:
    boxes = read_face_boxes(args.boxes) if args.boxes else None
    inputs = [(Path(inp), list_images(Path(inp))) for inp in args.inputs]
    check_output_outside_inputs(Path(args.out), [inp for inp, _ in inputs])
    if boxes is not None:
        check_boxes(boxes, inputs)
    # lazily: only the images of the first max_faces faces are read; in a folder, an
    # unreadable image is skipped (named on stderr), never drawn
    skipped: list[dict] = []
    items = itertools.chain.from_iterable(
        iter_images(files, inp, boxes, skipped if inp.is_dir() else None)
        for inp, files in inputs)
    predictor = LandmarkPredictor(args.config, args.checkpoint, args.device,
                                  batch_size=args.max_faces, allow_partial=args.allow_partial)
    whole_image_note("aan attention", boxes)
    grid = attention_figure(predictor, items, args.max_faces)
    save_png(args.out, with_caption(grid, "attention maps: input, then stages shallow -> deep"))
    print(f"aan attention: {args.out}")
