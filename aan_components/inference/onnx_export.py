"""Export the inference graph of an MMPose regression model (AAN or not) to ONNX."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from aan_core.utils.input_errors import AANInputError

__all__ = ["ONNX_OPSET", "LandmarkInferenceGraph", "OnnxExportError", "export_onnx",
           "supported_opsets"]

ONNX_OPSET = 17


class OnnxExportError(AANInputError):
    """A model the exporter cannot write at the asked opset (an operator it lacks there)."""


def supported_opsets() -> tuple[int, int]:
    """``(lowest, highest)`` ONNX opset the installed torch exporter writes (7..20 where
    torch does not say)."""
    try:
        from torch.onnx import _constants

        return int(_constants.ONNX_MIN_OPSET), int(_constants.ONNX_MAX_OPSET)
    except (ImportError, AttributeError):  # pragma: no cover - older/newer torch
        return 7, 20


class LandmarkInferenceGraph(nn.Module):
    """What runs at test time, as one module: normalisation, backbone, (neck,) head.

    The intermediate-supervision branches are not part of it (the paper: zero test-time
    cost); neither is flip test.

    Shape:
        - Input ``image``: :math:`(B, 3, H, W)` float32, the face crop as the model's data
          preprocessor receives it (BGR 0-255 as OpenCV reads it, for the configs here).
        - Output ``keypoints``: :math:`(B, K, 2)` in crop pixels (x, y).

    Example:
        >>> import torch
        >>> from aan_components.inference import load_pose_model
        >>> model = load_pose_model('mm_configs/aan_300w.py')  # checkpoint=... for trained
        >>> graph = LandmarkInferenceGraph(model)
        >>> graph(torch.rand(2, 3, 256, 256) * 255).shape
        torch.Size([2, 68, 2])
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        pre = model.data_preprocessor
        self.backbone = model.backbone
        self.neck = model.neck if getattr(model, "with_neck", False) else None
        self.head = model.head
        self.swap_rgb = bool(getattr(pre, "_channel_conversion", False))
        self.register_buffer("mean", pre.mean.detach().clone().float().reshape(1, -1, 1, 1))
        self.register_buffer("std", pre.std.detach().clone().float().reshape(1, -1, 1, 1))
        decoder = model.head.decoder
        w, h = decoder.input_size
        self.register_buffer("scale", torch.tensor([float(w), float(h)]))

    def forward(self, image: Tensor) -> Tensor:
        x = image.flip(1) if self.swap_rgb else image
        x = (x - self.mean) / self.std
        feats = self.backbone(x)
        if self.neck is not None:
            feats = self.neck(feats)
        return self.head(feats) * self.scale


def export_onnx(model: nn.Module, path: str | Path, opset: int = ONNX_OPSET) -> Path:
    """Write ``model``'s inference graph to ``path`` (dynamic batch axis), atomically.

    Returns:
        The written path.

    Raises:
        OnnxExportError: ``opset`` is outside :func:`supported_opsets`, or the model needs an
            operator that opset lacks (e.g. ``flip`` before opset 10); nothing is written.
    """
    low, high = supported_opsets()
    if not low <= opset <= high:
        raise OnnxExportError(f"opset {opset}: not supported by this torch's ONNX exporter "
                              f"({low}..{high})")
    from aan_core.utils.atomic_io import atomic_write

    graph = LandmarkInferenceGraph(model).eval().cpu()
    w, h = (int(v) for v in model.head.decoder.input_size)
    example = torch.rand(1, 3, h, w) * 255

    def write(tmp: str) -> None:
        from torch.onnx.errors import UnsupportedOperatorError

        try:
            with torch.no_grad():
                torch.onnx.export(graph, (example,), tmp, input_names=["image"],
                                  output_names=["keypoints"], opset_version=opset,
                                  dynamic_axes={"image": {0: "batch"},
                                                "keypoints": {0: "batch"}},
                                  dynamo=False)
        except UnsupportedOperatorError as e:
            raise OnnxExportError(f"opset {opset}: cannot export this model: "
                                  f"{str(e).splitlines()[0]}") from None

    atomic_write(path, write)
    return Path(path)
