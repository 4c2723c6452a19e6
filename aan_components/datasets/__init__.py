"""Datasets MMPose lacks; importing this registers them in ``mmpose.registry.DATASETS``."""

from .annotation_check import AnnotationError, check_face_annotations
from .celeba_dataset import CelebADataset
from .converted_datasets import (
    AANAFLWDataset,
    AANFace300VWDataset,
    AANFace300WDataset,
    MissingDataError,
)
from .crop_cache_dataset import CropCacheDataset
from .synthetic_face_dataset import METAINFO_BY_LAYOUT, SyntheticFaceDataset
from .transforms import LoadFaceImage, UnreadableImageError

__all__ = ["METAINFO_BY_LAYOUT", "AANAFLWDataset", "AANFace300VWDataset", "AANFace300WDataset",
           "AnnotationError", "CelebADataset", "CropCacheDataset", "LoadFaceImage",
           "MissingDataError",
           "SyntheticFaceDataset", "UnreadableImageError", "check_face_annotations"]
