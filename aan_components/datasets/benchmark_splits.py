"""Deprecated alias: the protocol tables moved to :mod:`aan_core.face_protocols` (pure data,
no MMPose; the converters use them). Import that; this alias will be removed."""

import warnings

from aan_core.face_protocols import *  # noqa: F403
from aan_core.face_protocols import __all__  # noqa: F401

warnings.warn("aan_components.datasets.benchmark_splits moved to aan_core.face_protocols; "
              "import that (the alias will be removed)", DeprecationWarning, stacklevel=2)
