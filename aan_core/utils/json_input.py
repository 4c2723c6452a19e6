"""Read a JSON input file with errors that name the file (and the line for bad JSON)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["read_json"]


def read_json(path: str | os.PathLike, error: type[Exception] = ValueError) -> Any:
    """The parsed content of ``path``.

    Raises:
        error: ``"<path>: cannot read: ..."`` or ``"<path>: line N: invalid JSON: ..."``.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.json"
        >>> _ = p.write_text('{"a": 1,}')
        >>> read_json(p)
        Traceback (most recent call last):
        ...
        ValueError: ...a.json: line 1: invalid JSON: Expecting property name ...quotes
    """
    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise error(f"{path}: cannot read: {e}") from e
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise error(f"{path}: line {e.lineno}: invalid JSON: {e.msg}") from None
