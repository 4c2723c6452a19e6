"""Read an image file for the network, refusing what it cannot use right: one reader for
every entry point (training loader, ``aan predict`` / ``attention``, the demo's figures).

Refused, with the path: a missing, empty, truncated or non-image file; an image with a side
shorter than :data:`MIN_IMAGE_SIDE` pixels; an image of more than :data:`MAX_IMAGE_PIXELS`
pixels. The size limit is checked from the header, before anything is decoded, and the
decoded image must have the size its header states (so a file cannot slip past the check).
"""

from __future__ import annotations

import os

import numpy as np

from .image_header import read_image_size
from .input_errors import UnreadableImageError

__all__ = ["IMAGE_SUFFIXES", "MAX_IMAGE_PIXELS", "MIN_IMAGE_SIDE", "check_image_decodes",
           "check_image_size", "read_image"]

# An image of fewer pixels a side holds no face worth aligning (1x1 images were accepted).
MIN_IMAGE_SIDE = 16
# 150 Mpx decodes to 450 MB (BGR uint8); a 20000 x 20000 PNG of 1 MB would take 1.2 GB.
MAX_IMAGE_PIXELS = 150_000_000
# The files a folder is searched for: the formats read_image decodes (PIL reads the header,
# OpenCV decodes); a single file is read whatever its name, by its content.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".dib", ".tif", ".tiff", ".webp",
                  ".ppm", ".pgm", ".pbm", ".pnm")


def check_image_size(path: str | os.PathLike, width: int, height: int,
                     max_pixels: int = MAX_IMAGE_PIXELS,
                     min_side: int = MIN_IMAGE_SIDE) -> None:
    """Refuse an image size outside the limits.

    Raises:
        UnreadableImageError: naming the path, the size and the limit.
    """
    if min(width, height) < min_side:
        raise UnreadableImageError(
            path, f"image is {width}x{height}, smaller than the minimum {min_side} px a side")
    if width * height > max_pixels:
        raise UnreadableImageError(
            path, f"image is {width}x{height} ({width * height / 1e6:.0f} Mpx), over the "
                  f"limit of {max_pixels / 1e6:.0f} Mpx (max_pixels); downscale it")


def _decode(path: str | os.PathLike, flags: int, max_pixels: int,
            min_side: int) -> tuple[np.ndarray, int, int]:
    """``(image, width, height)``: the header's size checked, then the whole file decoded
    with OpenCV's ``flags`` from memory (which refuses a truncated JPEG, where
    ``cv2.imread`` would grey-fill the rest)."""
    import cv2

    width, height = read_image_size(path)
    check_image_size(path, width, height, max_pixels, min_side)
    try:
        data = np.fromfile(os.fspath(path), np.uint8)
    except OSError as e:
        raise UnreadableImageError(path, f"cannot read: {e}") from None
    image = cv2.imdecode(data, flags)
    if image is None:
        raise UnreadableImageError(path, "the image could not be decoded (truncated or "
                                         "corrupt file)")
    return image, width, height


def read_image(path: str | os.PathLike, max_pixels: int = MAX_IMAGE_PIXELS,
               min_side: int = MIN_IMAGE_SIDE) -> np.ndarray:
    """The image as 8-bit BGR, :math:`(H, W, 3)` uint8 (grayscale, 16-bit and mislabelled
    files, e.g. a PNG named ``.jpg``, included).

    Args:
        path: The image file.
        max_pixels: Refuse larger images (checked from the header, before decoding).
        min_side: Refuse images with a shorter side.

    Raises:
        UnreadableImageError: the file is missing, empty, truncated, not an image, too small
            or too large; the message starts with the path.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.jpg"
        >>> _ = p.write_bytes(b"not an image")
        >>> try:
        ...     read_image(p)
        ... except UnreadableImageError as e:
        ...     print(e.problem)
        not a readable image (cannot identify image file ...)
    """
    import cv2

    image, width, height = _decode(path, cv2.IMREAD_COLOR, max_pixels, min_side)
    if image.shape[:2] not in ((height, width), (width, height)):  # EXIF may rotate
        raise UnreadableImageError(
            path, f"decodes to {image.shape[1]}x{image.shape[0]}, but its header says "
                  f"{width}x{height}")
    return image


def check_image_decodes(path: str | os.PathLike, max_pixels: int = MAX_IMAGE_PIXELS,
                        min_side: int = MIN_IMAGE_SIDE) -> tuple[int, int]:
    """``(width, height)`` of an image :func:`read_image` would accept, checked by decoding
    all of it (at 1/8 scale, about twice as fast, keeping nothing): a file cut short behind
    an intact header, which its header alone passes, is refused. For converters, which check
    every image of a dataset without keeping it.

    Raises:
        UnreadableImageError: as :func:`read_image`; the message starts with the path.

    Example:
        >>> import tempfile, pathlib, cv2
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.png"
        >>> _ = cv2.imwrite(str(p), np.zeros((40, 60, 3), np.uint8))
        >>> check_image_decodes(p)
        (60, 40)
        >>> _ = p.write_bytes(p.read_bytes()[:-20])  # the end cut off, the header intact
        >>> try:
        ...     check_image_decodes(p)
        ... except UnreadableImageError as e:
        ...     print(e.problem)
        the image could not be decoded (truncated or corrupt file)
    """
    import cv2

    image, width, height = _decode(path, cv2.IMREAD_REDUCED_COLOR_8, max_pixels, min_side)
    eighths = ({width // 8, -(-width // 8)}, {height // 8, -(-height // 8)})
    h, w = image.shape[:2]
    if not ((w in eighths[0] and h in eighths[1]) or (h in eighths[0] and w in eighths[1])):
        raise UnreadableImageError(
            path, f"decodes to about {w * 8}x{h * 8}, but its header says {width}x{height}")
    return width, height
