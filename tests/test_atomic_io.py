"""atomic_write: all or nothing, and the permissions of an ordinary file."""

import os
from pathlib import Path

import pytest

from aan_core.utils.atomic_io import atomic_write


def test_written_file_has_ordinary_permissions(tmp_path):
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    target = tmp_path / "atomic.txt"
    atomic_write(target, lambda tmp: Path(tmp).write_text("x"))
    assert target.read_text() == "x"
    assert os.stat(target).st_mode & 0o777 == os.stat(plain).st_mode & 0o777


def test_failure_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "a.json"
    target.write_text("old")

    def broken(tmp):
        Path(tmp).write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(target, broken)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_an_existing_folder_as_the_file_names_the_users_path(tmp_path):
    """Wrong input caught: ``--out`` naming an existing folder; the error named the
    temporary file (``.x.abc123.tmp``) that the final rename failed on."""
    folder = tmp_path / "x"
    folder.mkdir()
    with pytest.raises(IsADirectoryError) as e:
        atomic_write(folder, lambda tmp: Path(tmp).write_text("x"))
    assert e.value.filename == str(folder) and ".tmp" not in str(e.value)
    assert [p.name for p in tmp_path.iterdir()] == ["x"] and not list(folder.iterdir())
