"""One writer at a time for an output folder: a lock file beside it."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from .input_errors import AANInputError

__all__ = ["OutputBusyError", "lock_path", "output_lock"]


class OutputBusyError(AANInputError):
    """Another run is writing the same output folder."""


def lock_path(out: str | os.PathLike) -> Path:
    """The lock file of the output folder ``out``: ``.<name>.lock`` in its parent folder.

    Example:
        >>> lock_path("runs/predictions").as_posix()
        'runs/.predictions.lock'
    """
    out = Path(out)
    return out.with_name(f".{out.name}.lock")


@contextlib.contextmanager
def output_lock(out: str | os.PathLike, command: str) -> Iterator[Path]:
    """Hold the lock of the output folder ``out`` (its parent must exist) while the block runs.

    The lock is ``fcntl.flock`` on :func:`lock_path`, which holds the holder's process id.
    The kernel releases it when its holder ends in any way, SIGKILL included, so a killed
    run's lock is stale by construction: the next run takes it over (its file is reused, and
    removed when that run ends). Yields the lock file.

    Raises:
        OutputBusyError: another live run holds the lock (one line naming ``out`` and the
            holder's process id).
    """
    path = lock_path(out)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            if e.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            raise OutputBusyError(
                f"{out}: another {command} run (process {holder}) is writing this output "
                f"folder now (lock {path}); wait for it to end, or choose another output "
                f"folder") from None
        try:  # the file may have been removed by the holder that just released it
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield path
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
        os.close(fd)
