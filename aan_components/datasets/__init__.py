"""Datasets MMPose lacks; importing this registers them in ``mmpose.registry.DATASETS``."""

from .annotation_check import AnnotationError, check_face_annotations
from .celeba_dataset import CelebADataset
from .crop_cache_dataset import CropCacheDataset
from .synthetic_face_dataset import METAINFO_BY_LAYOUT, SyntheticFaceDataset
from .transforms import LoadFaceImage, UnreadableImageError

__all__ = ["METAINFO_BY_LAYOUT", "AnnotationError", "CelebADataset", "CropCacheDataset",
           "LoadFaceImage",
           "SyntheticFaceDataset", "UnreadableImageError", "check_face_annotations"]
