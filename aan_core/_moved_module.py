"""Deprecation aliases for the modules that moved out of ``aan_core``'s top (issue 14: the
top keeps the network layers; data generation went to ``aan_core.data``, file and input
helpers to ``aan_core.utils``)."""

from __future__ import annotations

import importlib
import sys
import warnings

# old module -> the module it moved to; each old path holds a three-line alias module
MOVED_MODULES = {
    "aan_core.synthetic_faces": "aan_core.data.synthetic_faces",
    "aan_core.face_augmentation": "aan_core.data.face_augmentation",
    "aan_core.atomic_io": "aan_core.utils.atomic_io",
    "aan_core.json_input": "aan_core.utils.json_input",
    "aan_core.image_header": "aan_core.utils.image_header",
    "aan_core.image_file": "aan_core.utils.image_file",
    "aan_core.input_errors": "aan_core.utils.input_errors",
}


def alias_moved_module(old: str) -> None:
    """Make the module being imported as ``old`` the module it moved to, and warn.

    Called from the body of the module at the old path: after it, ``import old`` gives the
    very module object of the new path (same functions, same globals: monkeypatching one
    patches the other), and the ``DeprecationWarning`` points at the importing line.

    Args:
        old: Dotted name of the old module (its ``__name__``), a key of
            :data:`MOVED_MODULES`.
    """
    new = MOVED_MODULES[old]
    module = importlib.import_module(new)
    # stacklevel 3: this function, the alias module's body, then (the warnings machinery
    # skips importlib's own frames) the line that imported the old name
    warnings.warn(f"{old} moved to {new}; import that (the alias {old} will be removed)",
                  DeprecationWarning, stacklevel=3)
    sys.modules[old] = module
