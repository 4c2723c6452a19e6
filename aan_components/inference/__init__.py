"""Inference on images and videos, and ONNX export (``aan predict``, ``aan attention``,
``aan export``)."""

from .face_boxes import BoxFileError, read_face_boxes
from .landmark_predictor import FaceLandmarks, ImageLandmarks, LandmarkPredictor
from .onnx_export import ONNX_OPSET, LandmarkInferenceGraph, export_onnx

__all__ = ["ONNX_OPSET", "BoxFileError", "FaceLandmarks", "ImageLandmarks",
           "LandmarkInferenceGraph", "LandmarkPredictor", "export_onnx", "read_face_boxes"]
