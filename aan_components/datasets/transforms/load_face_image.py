"""``LoadFaceImage``: MMPose's ``LoadImage`` that reads local files with the project's one
image reader (``aan_core.utils.image_file.read_image``): unreadable images are reported by path
and, in training, skipped instead of ending the run."""

from __future__ import annotations

import numpy as np
from mmengine.logging import MMLogger
from mmpose.datasets.transforms import LoadImage
from mmpose.registry import TRANSFORMS

from aan_core.utils.image_file import (
    MAX_IMAGE_PIXELS,
    MIN_IMAGE_SIDE,
    check_image_size,
    read_image,
)
from aan_core.utils.image_header import read_image_size
from aan_core.utils.input_errors import UnreadableImageError

__all__ = ["LoadFaceImage", "UnreadableImageError"]


@TRANSFORMS.register_module()
class LoadFaceImage(LoadImage):
    """Load an image (as MMPose's ``LoadImage``), refusing files that are missing, empty,
    truncated, not images, smaller than ``min_side`` or larger than ``max_pixels``, with
    their path.

    Grayscale, 16-bit and mislabelled files (a PNG named ``.jpg``) decode as 8-bit BGR, as
    with ``LoadImage``. Local files with the default ``color_type`` / ``imdecode_backend``
    are read by :func:`aan_core.utils.image_file.read_image`; other settings and remote paths go
    through ``LoadImage``, then the decoded size is checked.

    Args:
        on_error: ``'raise'`` (default; evaluation must not drop images) raises
            :class:`UnreadableImageError`; ``'skip'`` (training) logs a warning naming the
            file and returns ``None``, so the dataset serves another sample.
        max_skips: With ``'skip'``: raise anyway once this many images were skipped in
            this process (a broken dataset should not train on what little is left).
        max_pixels: Refuse larger images before decoding (their header is read first).
        min_side: Refuse images with a shorter side (pixels).
        cache_images: Keep every decoded local image in this process's memory and serve
            copies of it on later calls (training with random transforms draws each face
            many times; decoding it again costs about as much as the rest of the pipeline).
            For small datasets of small images: 300W's 1,675 training faces at up to 200 px
            take about 200 MB per loader worker. A file changed during the run is not re-read.
        **kwargs: ``LoadImage`` arguments.
    """

    def __init__(self, on_error: str = "raise", max_skips: int = 100,
                 max_pixels: int = MAX_IMAGE_PIXELS, min_side: int = MIN_IMAGE_SIDE,
                 cache_images: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        if on_error not in ("raise", "skip"):
            raise ValueError(f"LoadFaceImage.on_error must be 'raise' or 'skip', got "
                             f"{on_error!r}")
        self.on_error = on_error
        self.max_skips = max_skips
        self.max_pixels = max_pixels
        self.min_side = min_side
        self.skipped: list[str] = []
        self.cache_images = cache_images
        self._decoded: dict[str, np.ndarray] = {}

    def _load(self, results: dict) -> dict:
        path = results.get("img_path")
        local = path and "://" not in str(path)
        if "img" not in results and local and self.color_type == "color" \
                and self.imdecode_backend == "cv2" and self.backend_args is None:
            img = self._decoded.get(str(path))
            if img is None:
                img = read_image(str(path), self.max_pixels, self.min_side)
                if self.cache_images:
                    self._decoded[str(path)] = img
            if self.cache_images:
                img = img.copy()  # later transforms may change it in place
            if self.to_float32:
                img = img.astype(np.float32)
            results["img"] = img
            results["img_shape"] = results["ori_shape"] = img.shape[:2]
            return results
        from_file = "img" not in results
        if from_file and local:
            check_image_size(path, *read_image_size(str(path)), self.max_pixels, self.min_side)
        out = super().transform(results)
        if out is None or out.get("img") is None:
            raise UnreadableImageError(path, "the image could not be decoded")
        if from_file:
            h, w = out["img"].shape[:2]
            check_image_size(path, w, h, self.max_pixels, self.min_side)
        return out

    def transform(self, results: dict) -> dict | None:
        path = results.get("img_path")
        try:
            return self._load(results)
        except Exception as e:
            error = e if isinstance(e, UnreadableImageError) else \
                UnreadableImageError(path, f"the image could not be decoded ({e})")
            if self.on_error == "raise":
                raise error from None
            self.skipped.append(str(path))
            if len(self.skipped) > self.max_skips:
                raise UnreadableImageError(
                    path, f"{len(self.skipped)} unreadable images skipped (more than "
                          f"max_skips {self.max_skips}); first ones: {self.skipped[:5]}; "
                          f"last: {error.problem}") from None
            MMLogger.get_current_instance().warning(
                f"LoadFaceImage: skipped unreadable training image {error} "
                f"({len(self.skipped)} skipped so far in this process)")
            return None
