"""Raw official downloads -> MMPose COCO-style json (``aan convert DATASET RAW_DIR OUT_DIR``).

Each converter module has ``add_arguments(parser)`` and ``convert(raw_dir, out_dir, **options)``;
all raise :class:`ConversionError` (file + line or field) on bad input and write every json
atomically, only after the whole input has been read and checked.
"""

from .errors import ConversionError
from .pts_format import PTS_ORIGIN, read_pts

# dataset -> (converter module, one-line help); modules are imported on use
CONVERTERS = {
    "300w": ("aan_components.converters.face300w",
             "iBUG 300W folders (.pts) -> train / common / challenging / full"),
    "aflw": ("aan_components.converters.aflw",
             "AFLWinfo_release.mat, 19 points -> train / test / test_frontal"),
    "celeba": ("aan_components.converters.celeba",
               "CelebA landmark, box and partition lists, 5 points -> train / test"),
    "300vw": ("aan_components.converters.face300vw",
              "300VW videos + .pts -> frames + train / category1-3"),
}

__all__ = ["CONVERTERS", "PTS_ORIGIN", "ConversionError", "read_pts"]
