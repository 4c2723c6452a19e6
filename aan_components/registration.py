"""Registration of every aan-components class in MMPose's registries, and nothing else.

The package root re-exports :func:`register_all_modules`; :mod:`aan_components.plugin`
calls it. Both import it from here, so that the plugin does not import the package root
that imports the plugin.
"""

from __future__ import annotations

import importlib

__all__ = ["REGISTERING_SUBPACKAGES", "register_all_modules"]

# the subpackages whose import registers classes in MMPose's registries
REGISTERING_SUBPACKAGES = ("models", "datasets", "evaluation", "engine")


def register_all_modules() -> None:
    """Register every aan-components class in MMPose's registries (no process-wide change).

    Imports :data:`REGISTERING_SUBPACKAGES`; on mmcv-lite that first installs the
    ``mmcv.ops`` stand-in, without which ``mmpose.models`` does not import at all.
    """
    for name in REGISTERING_SUBPACKAGES:
        importlib.import_module(f"{__package__}.{name}")
