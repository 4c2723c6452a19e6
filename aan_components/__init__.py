"""aan-components: Attentional Alignment Networks as MMPose modules.

Importing this package changes nothing and imports no MMPose: its subpackages load on use.

* **Registration.** Importing ``aan_components.models`` / ``.datasets`` / ``.evaluation`` /
  ``.engine`` registers that part's classes in MMPose's registries (classes only);
  :func:`register_all_modules` imports all four. The public registered names below
  (``aan_components.AANBackbone``, ...) load their subpackage on first access.
* **The plugin.** ``aan_components.plugin`` is the one module whose import changes the
  process: it registers everything and installs the safe checkpoint loader, the mmcv-lite
  ``mmcv.ops`` stand-in and CPU distributed training. The shipped configs name it in
  ``custom_imports``; in Python call :func:`setup` (the same, idempotent).
* **Configs.** The configs ship inside the package (``aan_components/configs``; the
  checkout's ``mm_configs`` links there): :func:`config_path`.

The trade-off: ``import aan_components`` alone (or ``custom_imports=['aan_components']``,
what the configs named before) no longer registers anything, so that the light parts
(``aan_components.converters``, ``aan convert``, ``aan tables``) start without MMPose.
Name ``aan_components.plugin`` (or a registering subpackage) instead.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .registration import REGISTERING_SUBPACKAGES, register_all_modules

if TYPE_CHECKING:  # the real types, for IDEs and type checkers; at run time, __getattr__
    from .datasets import SyntheticFaceDataset
    from .engine import TimeBudgetHook
    from .evaluation import FaceAlignmentMetric
    from .models import (
        AANBackbone,
        AANPoseEstimator,
        AttentionResidualStage,
        CosineEmbedding,
        CosineEmbeddingHead,
        IntermediateSupervisionLoss,
        TimmAttentionBackbone,
    )

try:  # the one version source: pyproject.toml's [project] version, as installed
    __version__ = version("aan-components")
except PackageNotFoundError:  # pragma: no cover - a source tree on sys.path, not installed
    __version__ = "0+unknown"

# public registered name -> the subpackage that defines (and registers) it (the same as
# the imports above)
_LAZY_NAMES = {
    "AANBackbone": "models",
    "AANPoseEstimator": "models",
    "AttentionResidualStage": "models",
    "CosineEmbedding": "models",
    "CosineEmbeddingHead": "models",
    "IntermediateSupervisionLoss": "models",
    "TimmAttentionBackbone": "models",
    "FaceAlignmentMetric": "evaluation",
    "SyntheticFaceDataset": "datasets",
    "TimeBudgetHook": "engine",
}

CONFIG_DIR = Path(__file__).resolve().parent / "configs"

__all__ = ["CONFIG_DIR", "REGISTERING_SUBPACKAGES", "__version__", "config_path",
           "register_all_modules", "setup", "AANBackbone", "AANPoseEstimator",
           "AttentionResidualStage", "CosineEmbedding", "CosineEmbeddingHead",
           "FaceAlignmentMetric", "IntermediateSupervisionLoss", "SyntheticFaceDataset",
           "TimeBudgetHook", "TimmAttentionBackbone"]


def setup() -> None:
    """Everything a config's ``custom_imports=['aan_components.plugin']`` does, for Python
    users: register all classes, install the process-wide compatibility changes
    (:mod:`aan_components.plugin`). Idempotent."""
    from .plugin import setup as plugin_setup

    plugin_setup()


def config_path(name: str) -> Path:
    """The shipped config ``name`` (``'aan_300w'`` or ``'aan_300w.py'``), from a checkout
    or an installed wheel alike.

    Raises:
        FileNotFoundError: no shipped config has that name (the message lists them).

    Example:
        >>> from aan_components import config_path
        >>> config_path('aan_300w').name
        'aan_300w.py'
    """
    path = CONFIG_DIR / (name if name.endswith(".py") else f"{name}.py")
    if not path.is_file():
        shipped = sorted(p.stem for p in CONFIG_DIR.glob("*.py"))
        raise FileNotFoundError(f"no shipped config {name!r} in {CONFIG_DIR}; the shipped "
                                f"configs: {', '.join(shipped)}")
    return path


def __getattr__(name: str) -> Any:
    if name in _LAZY_NAMES:
        module = importlib.import_module(f".{_LAZY_NAMES[name]}", __name__)
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY_NAMES})
