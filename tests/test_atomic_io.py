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


def test_a_folder_is_listed_once_per_process_however_many_files_are_written(tmp_path,
                                                                            monkeypatch):
    """Writing N files into one folder lists it once (for dead writers' temporary files),
    not N times. Wrong input caught: listing it at every write made writing N files O(N^2)."""
    from aan_core.utils import atomic_io

    listed = []
    real_listdir = os.listdir
    monkeypatch.setattr(atomic_io.os, "listdir", lambda d: listed.append(d) or real_listdir(d))
    for i in range(5):
        atomic_io.atomic_write(tmp_path / f"{i}.txt", lambda t: Path(t).write_text("x"))
    assert listed == [str(tmp_path)]
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{i}.txt" for i in range(5)]


def test_first_write_into_a_folder_removes_only_dead_writers_temporary_files(tmp_path):
    """A killed writer's temporary file (of any file in the folder) goes at this process's
    first write there; a live writer's, and a user's own dot-files, stay."""
    from aan_core.utils import atomic_io

    dead = tmp_path / ".other.json.999999999.ab12cd34.tmp"
    live = tmp_path / f".other.json.{os.getpid()}.ab12cd34.tmp"
    users = [tmp_path / ".notes.tmp", tmp_path / ".cache.1.tmp"]
    for p in (dead, live, *users):
        p.write_text("half")
    atomic_io.atomic_write(tmp_path / "a.txt", lambda t: Path(t).write_text("x"))
    assert not dead.exists() and live.exists() and all(p.exists() for p in users)
