"""Write files so that nothing is ever half-written, and nothing is left by a killed writer."""

from __future__ import annotations

import errno
import os
import os.path as osp
import re
import tempfile
from collections.abc import Callable

__all__ = ["atomic_write", "current_umask", "process_alive", "remove_stale_temporaries"]


def process_alive(pid: int) -> bool:
    """Whether a process ``pid`` runs on this machine (a killed writer's does not).

    Example:
        >>> process_alive(os.getpid())
        True
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def current_umask() -> int:
    """The process's umask (read by setting it, then restoring it at once)."""
    umask = os.umask(0)
    os.umask(umask)
    return umask


def _temporary_prefix(path: str) -> str:
    return f".{osp.basename(path)}."


# an atomic_write temporary file: ".<name>.<writer's pid>.<mkstemp's random part>.tmp"
_TEMPORARY = re.compile(r"\..+\.(\d+)\.[^.]+\.tmp$")
# folders this process has already swept of dead writers' temporary files: one listing per
# folder, not one per write (a folder of N outputs would otherwise be listed N times)
_swept_folders: set[str] = set()


def _remove_dead_writers_files(folder: str, pattern: re.Pattern) -> list[str]:
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        found = pattern.match(name)
        if found and not process_alive(int(found.group(1))):
            try:
                os.unlink(osp.join(folder, name))
                removed.append(osp.join(folder, name))
            except OSError:
                pass
    return removed


def remove_stale_temporaries(path: str | os.PathLike) -> list[str]:
    """Remove the temporary files that a killed :func:`atomic_write` of ``path`` left beside
    it (named after ``path`` and the writer's process id, which no longer runs); returns
    them. A live writer's temporary file is left alone.

    Example:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (folder / ".a.txt.999999999.x1.tmp").write_text("half")
        >>> [osp.basename(p) for p in remove_stale_temporaries(folder / "a.txt")]
        ['.a.txt.999999999.x1.tmp']
    """
    path = os.fspath(path)
    pattern = re.compile(re.escape(_temporary_prefix(path)) + r"(\d+)\.[^.]+\.tmp$")
    return _remove_dead_writers_files(osp.dirname(osp.abspath(path)), pattern)


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> None:
    """Call ``write(tmp_path)``, then rename the temporary file onto ``path``.

    The temporary file sits in the same folder, so the rename is atomic: a reader never sees
    a half-written file, and a failure (an exception, Ctrl-C, a full disk) leaves an existing
    ``path`` untouched and no temporary file behind. A process killed outright (SIGKILL)
    cannot clean up: its temporary file (named after ``path`` and its process id) is removed
    by the next process that writes into that folder (each process lists a folder once, at
    its first write there). Errors about the file (``path`` is a folder, its folder
    cannot be written, the disk is full) name ``path``, never the temporary file.

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
        if folder not in _swept_folders:
            _remove_dead_writers_files(folder, _TEMPORARY)
            _swept_folders.add(folder)
        fd, tmp = tempfile.mkstemp(prefix=f"{_temporary_prefix(path)}{os.getpid()}.",
                                   suffix=".tmp", dir=folder)
    except OSError as e:  # name the file asked for, not the temporary one
        raise type(e)(e.errno, f"cannot write here: {e.strerror}", path) from None
    os.close(fd)
    try:
        try:
            write(tmp)
        except OSError as e:
            if e.errno is None or e.filename not in (None, tmp):
                raise
            # e.g. ENOSPC from a write(): name the file asked for, not the temporary one
            raise type(e)(e.errno, f"cannot write here: {e.strerror}", path) from None
        # mkstemp makes the file 0600; give it the mode a plain open() would (umask applied)
        os.chmod(tmp, 0o666 & ~current_umask())
        try:
            os.replace(tmp, path)
        except OSError as e:  # name the file asked for, not the temporary one
            raise type(e)(e.errno, f"cannot write here: {e.strerror}", path) from None
    except BaseException:
        if osp.exists(tmp):
            os.unlink(tmp)
        raise
