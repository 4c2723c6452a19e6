"""Read an MMPose config file with errors that name the file (and the line of a syntax
error) instead of mmengine's tracebacks.

Every way a config file can fail to read is the user's file at fault, said in one line: a
missing file, a ``.py`` syntax error or a broken ``.yaml``/``.json`` (file and line), a
``.py`` that raises when it runs (``1/0``, an undefined name: file, line and the error), a
``custom_imports`` module that cannot be imported, and ``--cfg-options`` that do not merge.
"""

from __future__ import annotations

import difflib
import inspect
import json
import os
import re
import traceback

from aan_core.utils.input_errors import AANInputError

__all__ = ["ConfigError", "nearest_name", "read_config", "require_fields",
           "unknown_field_error"]


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
        ConfigError: the file is missing, not a ``.py``/``.json``/``.yaml`` config, has a
            syntax error or raises when it runs (named by its file and line, also inside a
            ``_base_`` file), names a ``custom_imports`` module that cannot be imported, or
            ``cfg_options`` do not merge into it.
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
    except ImportError as e:  # mmengine's own words list sys.path; the cause says which module
        cause = e
        while (cause.__cause__ or cause.__context__) is not None:
            cause = cause.__cause__ or cause.__context__
        raise ConfigError(f"{path}: field custom_imports: cannot import it: "
                          f"{_one_line(cause)}") from None
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path}: line {e.lineno}: invalid JSON: {e.msg}") from None
    except Exception as e:  # noqa: BLE001 - anything the file does while it runs is the file's
        mark = getattr(e, "problem_mark", None)  # yaml.MarkedYAMLError
        if mark is not None:
            raise ConfigError(f"{path}: line {mark.line + 1}: invalid YAML: "
                              f"{getattr(e, 'problem', None) or _one_line(e)}") from None
        raise ConfigError(f"{_where(e, path)}: cannot read this config: "
                          f"{_one_line(e)}") from None
    if cfg_options:
        try:
            cfg.merge_from_dict(cfg_options)
        except Exception as e:  # noqa: BLE001 - an override that does not fit the config
            raise ConfigError(f"{path}: --cfg-options {sorted(cfg_options)}: cannot merge them "
                              f"into this config: {_one_line(e)}") from None
    return cfg


def _one_line(error: BaseException) -> str:
    """``Type: message`` of an error, on one line (mmengine's messages span several)."""
    text = " ".join(str(error).split())
    text = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _where(error: BaseException, path: str) -> str:
    """``file: line N`` of the innermost config file (the file itself or a ``_base_`` of it)
    whose top-level code raised ``error``; else ``path``."""
    import mmengine

    library = os.path.dirname(mmengine.__file__)
    frames = traceback.extract_tb(error.__traceback__)
    ran = [f for i, f in enumerate(frames) if i and frames[i - 1].filename.startswith(library)
           and f.name == "<module>" and os.path.isfile(f.filename)]
    return f"{ran[-1].filename}: line {ran[-1].lineno}" if ran else path


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


def nearest_name(name: str, valid) -> str:
    """`` (did you mean 'x'?)`` for the valid name nearest to a misspelt one, else ``''``."""
    close = difflib.get_close_matches(name, sorted(valid), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _find_key(node, key: str, prefix: str) -> tuple[str, dict] | None:
    """``(dotted path, the dict)`` of the first dict under ``node`` that has ``key``."""
    if isinstance(node, dict):
        if key in node:
            return f"{prefix}.{key}", node
        items = node.items()
    elif isinstance(node, (list, tuple)):
        items = ((f"[{i}]", v) for i, v in enumerate(node))
    else:
        return None
    for k, v in items:
        found = _find_key(v, key, f"{prefix}{k}" if str(k).startswith("[") else f"{prefix}.{k}")
        if found:
            return found
    return None


def _accepted_arguments(cls) -> set[str]:
    """The keyword arguments a class's ``__init__`` takes, along its base classes (a
    ``**kwargs`` passes the rest on to them)."""
    names: set[str] = set()
    for klass in inspect.getmro(cls):
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        try:
            params = inspect.signature(init).parameters.values()
        except (TypeError, ValueError):
            continue
        names |= {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
                  and p.name != "self"}
    return names


def unknown_field_error(config: str, error: TypeError, node, prefix: str,
                        registries) -> ConfigError | None:
    """A misspelt field (``... got an unexpected keyword argument 'ann_fle'``) named by its
    dotted path under ``node``, with the nearest field its type accepts; ``None`` when
    ``error`` is another ``TypeError``."""
    m = re.search(r"unexpected keyword argument '(\w+)'", str(error))
    found = _find_key(node, m.group(1), prefix) if m else None
    if found is None:
        return None
    field, owner = found
    type_name = owner.get("type")
    cls = type_name if isinstance(type_name, type) else next(
        (c for c in (r.get(type_name) for r in registries) if c is not None), None) \
        if isinstance(type_name, str) else None
    hint = nearest_name(m.group(1), _accepted_arguments(cls)) if cls is not None else ""
    of = f" of {cls.__name__}" if cls is not None else ""
    return ConfigError(f"{config}: field {field}: unknown field{of}{hint}")
