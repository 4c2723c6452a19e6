"""Inference on images and videos, and ONNX export (``aan predict``, ``aan attention``,
``aan export``)."""

from .face_boxes import BoxFileError, read_face_boxes
from .landmark_predictor import FaceLandmarks, ImageLandmarks, LandmarkPredictor
from .model_loading import CheckpointMismatchError, check_device, load_pose_model
from .onnx_export import ONNX_OPSET, LandmarkInferenceGraph, export_onnx

__all__ = ["ONNX_OPSET", "BoxFileError", "CheckpointMismatchError", "FaceLandmarks",
           "ImageLandmarks", "LandmarkInferenceGraph", "LandmarkPredictor", "check_device",
           "export_onnx", "load_pose_model", "read_face_boxes"]
