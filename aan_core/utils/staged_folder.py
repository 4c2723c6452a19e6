"""Replace an output folder in one step: a run writes a staged copy, swapped in when complete."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .atomic_io import current_umask
from .input_errors import AANInputError
from .output_lock import output_lock

__all__ = ["STAGE_TAG", "exchange_folders", "name_the_output", "staged_folder"]

STAGE_TAG = "aan-stage"  # .<out name>.aan-stage.<random>.partial beside the output folder
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def exchange_folders(a: Path, b: Path) -> bool:
    """Swap two folders in one atomic step (Linux ``renameat2(RENAME_EXCHANGE)``); ``False``
    where the system or file system cannot."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst, follow_symlinks=False)
    except OSError:  # a file system without hard links
        shutil.copy2(src, dst, follow_symlinks=False)


def _stale(out: Path) -> tuple[list[Path], list[Path]]:
    prefix = f".{out.name}.{STAGE_TAG}."
    found = [p for p in out.parent.iterdir() if p.name.startswith(prefix)]
    return ([p for p in found if p.name.endswith(".partial")],
            [p for p in found if p.name.endswith(".previous")])


def _recover(out: Path) -> None:
    """Undo what a killed run left (the caller holds the lock, so no run owns it): a
    previous ``out`` moved aside and not yet replaced is put back; stages are removed."""
    partial, previous = _stale(out)
    if previous and not out.exists():
        os.rename(previous.pop(), out)
    for p in partial + previous:
        shutil.rmtree(p, ignore_errors=True)


def _replace(stage: Path, out: Path) -> None:
    if not out.exists():
        os.rename(stage, out)
        return
    if exchange_folders(stage, out):
        shutil.rmtree(stage)  # now the previous content
        return
    previous = stage.with_name(stage.name.removesuffix(".partial") + ".previous")
    os.rename(out, previous)  # killed between these two renames: the next run puts it back
    os.rename(stage, out)
    shutil.rmtree(previous)


def name_the_output(error: BaseException, stage: Path, out: Path) -> None:
    """Make an error about a file in ``stage`` name it in ``out``, where the user looks."""
    if isinstance(error, OSError) and isinstance(error.filename, str):
        error.filename = error.filename.replace(str(stage), str(out))
    elif isinstance(error, AANInputError) and error.args and isinstance(error.args[0], str):
        error.args = (error.args[0].replace(str(stage), str(out)), *error.args[1:])


@contextlib.contextmanager
def staged_folder(out: str | os.PathLike, command: str) -> Iterator[Path]:
    """A staged copy of the output folder ``out``, which replaces ``out`` in one step when
    the block completes.

    The stage is a hidden folder beside ``out`` holding a hard-link copy of ``out``'s files
    (nothing is copied: write into it by renaming new files into place, as
    :func:`~aan_core.utils.atomic_io.atomic_write` does, never by rewriting a file in place).
    When the block ends normally, the stage and ``out`` swap in one atomic rename and the
    previous content is removed; when it raises (an error, Ctrl-C) the stage is removed and
    ``out`` is as it was. A run killed outright leaves its stage (or, between the two
    renames of the fallback for file systems without an atomic swap, ``out`` moved aside):
    the next run on ``out`` removes it (or puts ``out`` back) before anything else. Runs
    writing the same ``out`` take turns through
    :func:`~aan_core.utils.output_lock.output_lock`: the second is refused in one line.

    Raises:
        OutputBusyError: another run writes ``out`` now.
        AANInputError: ``out`` holds the current folder (it is replaced as a whole).
        NotADirectoryError: ``out`` is a file.
    """
    out = Path(os.path.abspath(out))
    if out.is_symlink():
        out = out.resolve()  # the folder it links to is replaced, the link stays
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "is a file, where this run writes a folder",
                                 str(out))
    if Path.cwd() == out or out in Path.cwd().parents:
        raise AANInputError(f"{out}: is, or holds, the current folder; the output folder is "
                            f"replaced as a whole when the run completes: choose another, or "
                            f"run from elsewhere")
    created = [p for p in out.parents if not p.exists()]
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with output_lock(out, command):
            _recover(out)
            stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.{STAGE_TAG}.", suffix=".partial",
                                          dir=out.parent))
            try:
                if not out.exists():  # mkdtemp's 0700: give the mode a plain mkdir would
                    stage.chmod(0o777 & ~current_umask())
                else:
                    shutil.copytree(out, stage, symlinks=True, copy_function=_link_or_copy,
                                    dirs_exist_ok=True)
                try:
                    yield stage
                except BaseException as e:
                    name_the_output(e, stage, out)
                    raise
                _replace(stage, out)
            except BaseException:
                shutil.rmtree(stage, ignore_errors=True)
                raise
    except BaseException:
        for path in created:  # deepest first; only folders this run made, left empty
            try:
                path.rmdir()
            except OSError:
                break
        raise
