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

from ..inference import LandmarkPredictor, read_face_boxes
from ..inference.attention_figure import attention_figure
from ..inference.media_sources import (
    check_boxes,
    check_output_outside_inputs,
    iter_images,
    list_images,
)
from ..visualization import save_png, with_caption
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
