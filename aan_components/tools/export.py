"""Export a model's inference graph to ONNX and check it against PyTorch in onnxruntime
(``aan export`` alone: the model shipped in the package).

The graph: input ``image`` (B, 3, H, W) float32 face crops as the model's data preprocessor
receives them (BGR 0-255 for the configs here); output ``keypoints`` (B, K, 2) in crop
pixels. Normalisation is inside the graph; the intermediate-supervision branches and flip
test are not. The batch axis is dynamic.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch

from ..inference import ONNX_OPSET, LandmarkInferenceGraph, export_onnx, load_pose_model
from ..inference.onnx_export import supported_opsets
from .argument_types import int_in_range


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", nargs="?",
                        help="MMPose config of the model; none: the model shipped in the "
                             "package (docs/pretrained_model.md, its sha256 checked)")
    parser.add_argument("checkpoint", nargs="?",
                        help="checkpoint (.pth), loaded safely and strictly; none: the "
                             "initial (untrained) weights, e.g. to check the graph")
    parser.add_argument("--allow-partial", action="store_true",
                        help="load a checkpoint that does not fit the config (what fits)")
    parser.add_argument("--out", default="aan.onnx", help="ONNX file to write")
    low, high = supported_opsets()
    parser.add_argument("--opset", type=int_in_range(low, high), default=ONNX_OPSET,
                        help=f"ONNX opset, {low}..{high} (default {ONNX_OPSET})")
    parser.add_argument("--no-check", action="store_true",
                        help="skip the onnxruntime comparison")


def max_abs_difference(model, onnx_path, images: np.ndarray) -> float:
    """Largest |ONNX - PyTorch| keypoint difference (crop pixels) on ``images`` (B,3,H,W)."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    ours = session.run(None, {"image": images.astype(np.float32)})[0]
    with torch.no_grad():
        ref = LandmarkInferenceGraph(model).eval()(torch.from_numpy(images).float()).numpy()
    return float(np.abs(ours - ref).max())


def run(args: argparse.Namespace) -> None:
    if args.config is None:
        from ..pretrained import DEFAULT_MODEL, pretrained_model

        shipped = pretrained_model(DEFAULT_MODEL)
        args.config, args.checkpoint = str(shipped.config), str(shipped.checkpoint)
    model = load_pose_model(args.config, args.checkpoint, "cpu", args.allow_partial)
    path = export_onnx(model, args.out, args.opset)
    print(f"aan export: {path} (opset {args.opset}, dynamic batch)")
    if not args.no_check:
        w, h = (int(v) for v in model.head.decoder.input_size)
        images = np.random.default_rng(0).uniform(0, 255, (2, 3, h, w)).astype(np.float32)
        diff = max_abs_difference(model, path, images)
        print(f"aan export: onnxruntime vs PyTorch, max |difference| = {diff:.2e} px")
        if not diff < 1e-2:
            print("aan export: error: the ONNX graph disagrees with PyTorch", file=sys.stderr)
            raise SystemExit(1)
