"""Datasets MMPose lacks; importing this registers them in ``mmpose.registry.DATASETS``."""

from .celeba_dataset import CelebADataset
from .synthetic_face_dataset import METAINFO_BY_LAYOUT, SyntheticFaceDataset

__all__ = ["METAINFO_BY_LAYOUT", "CelebADataset", "SyntheticFaceDataset"]
