"""``LoadFaceImage``: MMPose's ``LoadImage`` that reports unreadable images by path and, in
training, skips them instead of ending the run."""

from __future__ import annotations

from mmengine.logging import MMLogger
from mmpose.datasets.transforms import LoadImage
from mmpose.registry import TRANSFORMS

from aan_core.image_header import ImageHeaderError, read_image_size


class UnreadableImageError(OSError):
    """An image file that cannot be decoded (the message names the path and why)."""


@TRANSFORMS.register_module()
class LoadFaceImage(LoadImage):
    """Load an image (as MMPose's ``LoadImage``), refusing files that are missing, empty,
    truncated, not images, or larger than ``max_pixels``, with their path.

    Grayscale, 16-bit and mislabelled files (a PNG named ``.jpg``) decode as 8-bit BGR, as
    with ``LoadImage``.

    Args:
        on_error: ``'raise'`` (default; evaluation must not drop images) raises
            :class:`UnreadableImageError`; ``'skip'`` (training) logs a warning naming the
            file and returns ``None``, so the dataset serves another sample.
        max_skips: With ``'skip'``: raise anyway once this many images were skipped in
            this process (a broken dataset should not train on what little is left).
        max_pixels: Refuse larger images before decoding (their header is read first).
        **kwargs: ``LoadImage`` arguments.
    """

    def __init__(self, on_error: str = "raise", max_skips: int = 100,
                 max_pixels: int = 150_000_000, **kwargs) -> None:
        super().__init__(**kwargs)
        if on_error not in ("raise", "skip"):
            raise ValueError(f"LoadFaceImage.on_error must be 'raise' or 'skip', got "
                             f"{on_error!r}")
        self.on_error = on_error
        self.max_skips = max_skips
        self.max_pixels = max_pixels
        self.skipped: list[str] = []

    def _check_file(self, path: str) -> None:
        try:
            w, h = read_image_size(path)
        except ImageHeaderError as e:
            raise UnreadableImageError(str(e)) from None
        if w * h > self.max_pixels:
            raise UnreadableImageError(
                f"{path}: image is {w}x{h} ({w * h / 1e6:.0f} Mpx), over max_pixels "
                f"{self.max_pixels / 1e6:.0f} Mpx; downscale it or raise max_pixels")

    def transform(self, results: dict) -> dict | None:
        path = results.get("img_path")
        try:
            if "img" not in results and path and "://" not in str(path):
                self._check_file(str(path))
            out = super().transform(results)
            if out is None or out.get("img") is None:
                raise UnreadableImageError(f"{path}: the image could not be decoded")
            return out
        except Exception as e:
            message = str(e) if isinstance(e, UnreadableImageError) else \
                f"{path}: the image could not be decoded ({e})"
            if self.on_error == "raise":
                raise UnreadableImageError(message) from None
            self.skipped.append(str(path))
            if len(self.skipped) > self.max_skips:
                raise UnreadableImageError(
                    f"{len(self.skipped)} unreadable images skipped (more than max_skips "
                    f"{self.max_skips}); first ones: {self.skipped[:5]}; last: {message}") \
                    from None
            MMLogger.get_current_instance().warning(
                f"LoadFaceImage: skipped unreadable training image {message} "
                f"({len(self.skipped)} skipped so far in this process)")
            return None
