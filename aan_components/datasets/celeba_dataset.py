"""``CelebADataset``: CelebA's 5 landmarks (in-the-wild images), as ``aan convert celeba``
writes them."""

from __future__ import annotations

import os.path as osp

from mmpose.datasets.datasets.base import BaseCocoStyleDataset
from mmpose.registry import DATASETS

from .converted_datasets import ChecksAnnotationFile


@DATASETS.register_module()
class CelebADataset(ChecksAnnotationFile, BaseCocoStyleDataset):
    """CelebA face-landmark dataset (5 points: eye centres, nose tip, mouth corners).

    "Deep Learning Face Attributes in the Wild", ICCV 2015. Annotations are MMPose
    COCO-style json from ``aan convert celeba`` (``bbox`` from ``list_bbox_celeba.txt``);
    metainfo (flip pairs, sigmas) in ``celeba_metainfo.py``. The paper's NME normalises by
    the distance of the eye centres (points 0 and 1). A missing annotation file points at
    ``aan convert celeba`` and ``aan check``.

    Args:
        **kwargs: ``BaseCocoStyleDataset`` arguments (``ann_file``, ``data_root``,
            ``data_prefix``, ``pipeline``, ``test_mode``...).

    Example:
        >>> import aan_components.plugin
        >>> from mmpose.registry import DATASETS

from .converted_datasets import ChecksAnnotationFile
        >>> DATASETS.get('CelebADataset').METAINFO['from_file'].endswith('celeba_metainfo.py')
        True
    """

    DATA_NAME = "celeba"
    METAINFO: dict = dict(from_file=osp.join(osp.dirname(__file__), "celeba_metainfo.py"))
