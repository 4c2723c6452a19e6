"""staged_folder: an output folder replaced in one step, with or without an atomic swap."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import aan_core.utils.staged_folder as staged
from aan_core.utils.input_errors import AANInputError
from aan_core.utils.staged_folder import staged_folder


def _earlier(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    (out / "sub").mkdir(parents=True)
    (out / "sub" / "a.txt").write_text("old a")
    (out / "mine.txt").write_text("the user's")
    return out


@pytest.mark.parametrize("atomic_swap", [True, False])
def test_complete_run_replaces_the_folder_in_one_step(atomic_swap, tmp_path, monkeypatch):
    """The stage starts as the folder's content; files renamed into it replace the old
    ones; the folder's own files are never written through their hard links. Without the
    atomic swap (another file system), two renames do the same."""
    if not atomic_swap:
        monkeypatch.setattr(staged, "exchange_folders", lambda a, b: False)
    out = _earlier(tmp_path)
    old_inode = os.stat(out / "sub" / "a.txt").st_ino
    with staged_folder(out, "aan x") as stage:
        assert (stage / "mine.txt").read_text() == "the user's"
        new = stage / "sub" / ".a.new"
        new.write_text("new a")
        os.replace(new, stage / "sub" / "a.txt")
        assert (out / "sub" / "a.txt").read_text() == "old a"  # not yet
    assert (out / "sub" / "a.txt").read_text() == "new a"
    assert (out / "mine.txt").read_text() == "the user's"
    assert os.stat(out / "sub" / "a.txt").st_ino != old_inode
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_failed_run_leaves_the_folder_as_it_was(tmp_path):
    out = _earlier(tmp_path)
    with pytest.raises(RuntimeError), staged_folder(out, "aan x") as stage:
        (stage / "mine.txt").unlink()
        raise RuntimeError("failed half-way")
    assert (out / "mine.txt").read_text() == "the user's"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_folder_moved_aside_by_a_killed_run_is_put_back(tmp_path):
    """Killed between the fallback's two renames: the folder is gone, its previous content
    beside it; the next run puts it back before staging. Wrong input caught: a recovery
    that removed every leftover, the user's earlier content with them."""
    out = _earlier(tmp_path)
    os.rename(out, tmp_path / ".out.aan-stage.x1.previous")
    (tmp_path / ".out.aan-stage.x1.partial").mkdir()  # its stage, complete or not
    with staged_folder(out, "aan x") as stage:
        assert (stage / "mine.txt").read_text() == "the user's"
    assert (out / "mine.txt").read_text() == "the user's"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_new_folder_gets_ordinary_permissions(tmp_path):
    """mkdtemp makes the stage 0700; a new output folder gets what mkdir would give."""
    with staged_folder(tmp_path / "new", "aan x"):
        pass
    (tmp_path / "plain").mkdir()
    assert (tmp_path / "new").stat().st_mode == (tmp_path / "plain").stat().st_mode


def test_the_current_folder_is_not_an_output(tmp_path, monkeypatch):
    monkeypatch.chdir(_earlier(tmp_path) / "sub")
    with pytest.raises(AANInputError, match="holds, the current folder"), \
            staged_folder(tmp_path / "out", "aan x"):
        pass
