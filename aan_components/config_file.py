"""Read an MMPose config file with errors that name the file (and the line of a syntax
error) instead of mmengine's tracebacks."""

from __future__ import annotations

import os

from aan_core.utils.input_errors import AANInputError

__all__ = ["ConfigError", "read_config", "require_fields"]


class ConfigError(AANInputError):
    """A config that cannot be used (the message names the file and the field or line)."""


def read_config(path: str | os.PathLike, cfg_options: dict | None = None,
                import_custom_modules: bool = True):
    """``mmengine.Config.fromfile(path)`` (then ``cfg_options`` merged in).

    Args:
        path: The config file.
        cfg_options: Overrides merged in after reading.
        import_custom_modules: Import the config's ``custom_imports`` (the shipped configs'
            ``aan_components.plugin``, which imports MMPose); False to read values only.

    Raises:
        ConfigError: the file is missing, not a ``.py``/``.json``/``.yaml`` config, or has a
            syntax error (named by its file and line, also inside a ``_base_`` file).
    """
    from mmengine.config import Config

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ConfigError(f"{path}: config file not found")
    try:
        cfg = Config.fromfile(path, import_custom_modules=import_custom_modules)
    except SyntaxError as e:
        where = e.filename if e.filename and not e.filename.startswith("<") else path
        raise ConfigError(f"{where}: line {e.lineno}: syntax error: {e.msg} (is this an "
                          f"MMPose config?)") from None
    except (OSError, ValueError, KeyError, TypeError) as e:  # bad _base_, suffix, ...
        raise ConfigError(f"{path}: cannot read this config: {e}") from None
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def require_fields(cfg, path: str | os.PathLike, *fields: str) -> None:
    """Refuse a config without each dotted field (``"test_dataloader.dataset.pipeline"``).

    Raises:
        ConfigError: naming the file and the first missing field.
    """
    for field in fields:
        node = cfg
        for key in field.split("."):
            node = node.get(key) if hasattr(node, "get") else None
            if node is None:
                raise ConfigError(f"{os.fspath(path)}: field {field}: missing (is this an "
                                  f"MMPose config?)")
