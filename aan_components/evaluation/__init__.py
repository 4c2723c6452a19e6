"""Metrics MMPose lacks; importing this registers them in ``mmpose.registry.METRICS``."""

from .face_alignment_metric import FaceAlignmentMetric

__all__ = ["FaceAlignmentMetric"]
