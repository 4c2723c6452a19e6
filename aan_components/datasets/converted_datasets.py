"""MMPose's face datasets, as the configs here use them: the same classes, but a missing
annotation file says how to make it (``aan convert``) and how to check it (``aan check``)
instead of MMPose's bare ``AssertionError`` at the end of a long traceback."""

from __future__ import annotations

import os

from mmpose.datasets.datasets.face import AFLWDataset, Face300VWDataset, Face300WDataset
from mmpose.registry import DATASETS

from aan_core.utils.input_errors import AANInputError

__all__ = ["AANAFLWDataset", "AANFace300VWDataset", "AANFace300WDataset",
           "ChecksAnnotationFile", "MissingDataError", "check_annotation_file"]


class MissingDataError(AANInputError):
    """A dataset's annotation file is missing (the message says how to make it)."""


def check_annotation_file(ann_file: str, data_root: str, name: str) -> None:
    """Raise :class:`MissingDataError` naming ``ann_file``, ``aan convert`` and
    ``aan check`` when the file does not exist (for a 300W split that a partial conversion
    beside it could not form: why, and the ``--cfg-options`` to test on common instead)."""
    if ann_file and not os.path.isfile(ann_file):
        if name == "300w":  # a split that a partial 300W conversion could not form
            from ..converters.face300w_protocol import missing_split_hint

            hint = missing_split_hint(ann_file, os.path.relpath(ann_file, data_root)
                                      if data_root else None)
            if hint:
                raise MissingDataError(hint)
        root = data_root or f"data/{name}"
        raise MissingDataError(
            f"{ann_file}: annotation file not found. Make it from the official {name} "
            f"download with `aan convert {name} RAW_DIR {root}` (docs/reproducing.md; "
            f"MMPose's released json files work too), then check the data with "
            f"`aan check CONFIG --images` before training")


class ChecksAnnotationFile:
    """Mixin: check the annotation file before MMPose loads it."""

    DATA_NAME = ""

    def _load_annotations(self):
        check_annotation_file(self.ann_file, self.data_root, self.DATA_NAME)
        return super()._load_annotations()


@DATASETS.register_module()
class AANFace300WDataset(ChecksAnnotationFile, Face300WDataset):
    """MMPose's ``Face300WDataset``; a missing annotation file points at ``aan convert
    300w`` and ``aan check``."""

    DATA_NAME = "300w"


@DATASETS.register_module()
class AANAFLWDataset(ChecksAnnotationFile, AFLWDataset):
    """MMPose's ``AFLWDataset``; a missing annotation file points at ``aan convert aflw``
    and ``aan check``."""

    DATA_NAME = "aflw"


@DATASETS.register_module()
class AANFace300VWDataset(ChecksAnnotationFile, Face300VWDataset):
    """MMPose's ``Face300VWDataset``; a missing annotation file points at ``aan convert
    300vw`` and ``aan check``."""

    DATA_NAME = "300vw"
