"""Read an image's size from its header, with errors that name the file and the problem."""

from __future__ import annotations

import os

from .input_errors import UnreadableImageError

__all__ = ["ImageHeaderError", "read_image_size"]


class ImageHeaderError(UnreadableImageError):
    """An image file whose header cannot be read (missing, empty, not an image)."""


def read_image_size(path: str | os.PathLike) -> tuple[int, int]:
    """``(width, height)`` from the image header (no decode; PIL's decompression-bomb limit
    is not applied, so callers can set and report their own).

    Raises:
        ImageHeaderError: the file is missing, empty or not an image.
    """
    from PIL import Image

    if not os.path.isfile(path):
        raise ImageHeaderError(path, "image file not found")
    if os.path.getsize(path) == 0:
        raise ImageHeaderError(path, "image file is empty (0 bytes)")
    limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
    try:
        with Image.open(path) as im:
            return int(im.width), int(im.height)
    except Exception as e:  # PIL raises several types for non-images
        raise ImageHeaderError(path, f"not a readable image ({e})") from None
    finally:
        Image.MAX_IMAGE_PIXELS = limit
