"""Read a JSON input file with errors that name the file (and the line for bad JSON).

A file means exactly one thing: an object with a key given twice is refused (``json``
would keep the last value without a word). A UTF-8 byte-order mark, as editors and
spreadsheets on Windows write it, is read as text, not as an error.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .input_errors import AANInputError

__all__ = ["read_json"]


class _DuplicateKey(AANInputError):
    """A key given twice in one JSON object (caught in :func:`read_json`, which names the
    file)."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict:
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def read_json(path: str | os.PathLike, error: type[Exception] = ValueError) -> Any:
    """The parsed content of ``path`` (a leading UTF-8 byte-order mark is skipped).

    Raises:
        error: ``"<path>: cannot read: ..."``, ``"<path>: line N: invalid JSON: ..."`` or
            ``"<path>: key 'k' appears twice in one object ..."``.

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
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise error(f"{path}: cannot read: {e}") from e
    try:
        return json.loads(text, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as e:
        raise error(f"{path}: line {e.lineno}: invalid JSON: {e.msg}") from None
    except _DuplicateKey as e:
        raise error(f"{path}: key {e.key!r} appears twice in one object (which one is "
                    f"meant? keys must be unique)") from None
