"""Deprecation aliases for the modules that moved in issue 14: out of ``aan_core``'s top (the
top keeps the network layers; data generation went to ``aan_core.data``, file and input
helpers to ``aan_core.utils``), and the protocol tables out of the MMPose layer into
``aan_core.face_protocols`` (the converters use them without MMPose)."""

from __future__ import annotations

import importlib
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
    "aan_components.datasets.benchmark_splits": "aan_core.face_protocols",
}


def alias_moved_module(namespace: dict) -> None:
    """Fill the namespace of the module at an old path with the names of the module it
    moved to, and warn that the old path is deprecated.

    Called from the body of the alias module as ``alias_moved_module(globals())``: the alias
    then holds the very same functions, classes and constants (``from old import name``
    keeps working), and the ``DeprecationWarning`` points at the line that imported it.
    The alias stays its own module object (so that tools that import files by path, e.g.
    pytest's doctest collection, see the file they asked for): monkeypatch the new module.

    Args:
        namespace: The alias module's ``globals()``; its ``__name__`` is a key of
            :data:`MOVED_MODULES`.
    """
    old = namespace["__name__"]
    new = MOVED_MODULES[old]
    module = importlib.import_module(new)
    # stacklevel 3: this function, the alias module's body, then (the warnings machinery
    # skips the import system's frames) the line that imported the old name
    warnings.warn(f"{old} moved to {new}; import that (the alias {old} will be removed)",
                  DeprecationWarning, stacklevel=3)
    namespace.update({k: v for k, v in vars(module).items() if not k.startswith("__")})
    namespace["__all__"] = list(getattr(module, "__all__", ()))
