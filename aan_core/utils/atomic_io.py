"""Write files so that nothing is ever half-written."""

from __future__ import annotations

import errno
import os
import os.path as osp
import tempfile
from collections.abc import Callable

__all__ = ["atomic_write"]


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> None:
    """Call ``write(tmp_path)``, then rename the temporary file onto ``path``.

    The temporary file sits in the same folder, so the rename is atomic: a reader never sees
    a half-written file, and a failure (an exception, Ctrl-C) leaves an existing ``path``
    untouched and no temporary file behind. Errors about the file (``path`` is a folder, or
    its folder cannot be written) name ``path``, never the temporary file.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
        >>> atomic_write(p, lambda tmp: pathlib.Path(tmp).write_text("hi"))
        >>> p.read_text()
        'hi'
    """
    path = os.fspath(path)
    if osp.isdir(path):  # found now, not by the rename at the end (which names the temp file)
        raise IsADirectoryError(errno.EISDIR, "is a folder; give a file name", path)
    folder = osp.dirname(osp.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{osp.basename(path)}.", suffix=".tmp", dir=folder)
    except OSError as e:  # name the file asked for, not the temporary one
        raise type(e)(e.errno, f"cannot write here: {e.strerror}", path) from None
    os.close(fd)
    try:
        write(tmp)
        # mkstemp makes the file 0600; give it the mode a plain open() would (umask applied)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        try:
            os.replace(tmp, path)
        except OSError as e:  # name the file asked for, not the temporary one
            raise type(e)(e.errno, f"cannot write here: {e.strerror}", path) from None
    except BaseException:
        if osp.exists(tmp):
            os.unlink(tmp)
        raise
