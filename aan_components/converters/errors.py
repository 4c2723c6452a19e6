"""``ConversionError``: bad raw input, named by file and line or field."""

from __future__ import annotations

import os
from pathlib import Path

from aan_core.utils.input_errors import AANInputError


class ConversionError(AANInputError):
    """A raw dataset file a converter cannot use.

    The message always starts with the file, then the line (for text files) or the field
    (for ``.mat``/json), then what is wrong, e.g.
    ``helen/trainset/1.pts: line 5: expected two numbers "x y", got 'abc 12'``.
    """

    def __init__(self, path: str | os.PathLike, problem: str, *, line: int | None = None,
                 field: str | None = None) -> None:
        self.path = os.fspath(path)
        self.line = line
        self.field = field
        self.problem = problem
        where = self.path
        if line is not None:
            where += f": line {line}"
        if field is not None:
            where += f": field {field!r}"
        super().__init__(f"{where}: {problem}")


def read_raw_bytes(path: str | os.PathLike) -> bytes:
    """The bytes of a raw input file.

    Raises:
        ConversionError: the file cannot be read (naming it and the reason).
    """
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise ConversionError(path, f"cannot read: {e.strerror or e}") from e
