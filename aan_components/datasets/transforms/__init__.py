"""Data transforms of aan-components (registered in ``mmpose.registry.TRANSFORMS``)."""

from .load_face_image import LoadFaceImage, UnreadableImageError

__all__ = ["LoadFaceImage", "UnreadableImageError"]
