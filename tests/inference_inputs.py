"""Inputs for the inference tools' tests, made from the 300W fixture: a video of one still
face, images the readers refuse, box files."""

from __future__ import annotations

from pathlib import Path

import cv2


def still_video(path: Path, fixtures_dir: Path, frames: int = 3) -> Path:
    frame = cv2.imread(str(fixtures_dir / "300w" / "indoor_029.png"))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25,
                             (frame.shape[1], frame.shape[0]))
    for _ in range(frames):
        writer.write(frame)
    writer.release()
    return path


def bad_image(tmp_path: Path, fixtures_dir: Path, kind: str) -> Path:
    img = cv2.imread(str(fixtures_dir / "300w" / "indoor_029.png"))
    if kind == "truncated":
        cv2.imwrite(str(tmp_path / "full.jpg"), img)
        data = (tmp_path / "full.jpg").read_bytes()
        (tmp_path / "truncated.jpg").write_bytes(data[: len(data) // 3])
        return tmp_path / "truncated.jpg"
    if kind == "tiny":
        cv2.imwrite(str(tmp_path / "tiny.png"), img[:1, :1])
        return tmp_path / "tiny.png"
    from PIL import Image

    Image.new("1", (20000, 20000)).save(tmp_path / "huge.png")  # 400 Mpx in 1 MB
    return tmp_path / "huge.png"


def box_file(tmp_path: Path, text: str, name: str = "b.json") -> str:
    (tmp_path / name).write_text(text)
    return str(tmp_path / name)
