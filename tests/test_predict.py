"""``aan predict`` on the real fixtures, with conftest's ``checkpoint`` (trained 2 iterations on
the 300W fixture): folders, box files, videos and their smoothing, images skipped and listed,
the compiled predictor, and nothing lost when a run fails."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import REPO
from inference_inputs import bad_image, box_file, still_video

from aan_components.cli import main as aan
from aan_core.inference.temporal_smoothing import OneEuroFilter

CONFIG = str(REPO / "mm_configs" / "aan_300w.py")


def fixture_boxes(fixtures_dir: Path, tmp_path: Path) -> tuple[Path, dict]:
    """The 300W fixture's ground-truth boxes as a box JSON, plus image sizes."""
    data = json.loads((fixtures_dir / "300w" / "test_300w.json").read_text())
    names = {im["id"]: im for im in data["images"]}
    boxes, sizes = {}, {}
    for a in data["annotations"]:
        im = names[a["image_id"]]
        x, y, w, h = a["bbox"]
        boxes[im["file_name"]] = [[x, y, x + w, y + h]]
        sizes[im["file_name"]] = (im["width"], im["height"])
    path = tmp_path / "boxes.json"
    path.write_text(json.dumps(boxes))
    return path, sizes


def test_predict_folder_with_boxes(checkpoint, fixtures_dir, tmp_path):
    boxes, sizes = fixture_boxes(fixtures_dir, tmp_path)
    out = tmp_path / "out"
    aan(["predict", CONFIG, checkpoint, str(fixtures_dir / "300w"), "--boxes", str(boxes),
         "--out", str(out), "--batch-size", "1"])
    result = json.loads((out / "landmarks.json").read_text())
    assert result["num_keypoints"] == 68
    assert sorted(r["image"] for r in result["images"]) == sorted(sizes)
    for record in result["images"]:
        (face,) = record["faces"]
        pts = np.array(face["keypoints"])
        assert pts.shape == (68, 2)
        # Mapped back into this face's crop (its box padded 1.25x), centred on the box: not
        # necessarily inside the image, as a face's chin can touch the image's edge.
        x0, y0, x1, y1 = json.loads(boxes.read_text())[record["image"]][0]
        centre, side = np.array([(x0 + x1) / 2, (y0 + y1) / 2]), max(x1 - x0, y1 - y0)
        assert (np.abs(pts - centre) <= 1.25 * side / 2).all()
        assert np.abs(pts.mean(0) - centre).max() < 0.1 * side
        assert (out / "vis" / record["image"]).is_file()


def test_predict_video_with_and_without_smoothing(checkpoint, fixtures_dir, tmp_path):
    """A 12-frame clip of a real 300VW frame with camera noise: smoothing is off by default,
    and on, it makes the static face's landmarks move less from frame to frame."""
    frame = cv2.imread(str(fixtures_dir / "300vw" / "401" / "imgs" / "000732.jpg"))
    frame = cv2.resize(frame, (frame.shape[1] // 2, frame.shape[0] // 2))
    rng = np.random.default_rng(0)
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 25,
                             (frame.shape[1], frame.shape[0]))
    for _ in range(12):
        noisy = np.clip(frame + rng.normal(0, 12, frame.shape), 0, 255).astype(np.uint8)
        writer.write(noisy)
    writer.release()
    runs = {}
    for name, extra in (("raw", []), ("smooth", ["--smooth"])):
        out = tmp_path / name
        aan(["predict", CONFIG, checkpoint, str(video), "--out", str(out), "--whole-image",
             *extra])
        result = json.loads((out / "landmarks.json").read_text())
        assert [r["image"] for r in result["images"]] == [str(i) for i in range(1, 13)]
        assert (out / "clip_landmarks.mp4").stat().st_size > 0
        runs[name] = np.array([r["faces"][0]["keypoints"] for r in result["images"]])
    assert json.loads((tmp_path / "raw" / "landmarks.json").read_text())["smoothing"] is None

    def jitter(track):
        return np.linalg.norm(np.diff(track, axis=0), axis=-1).mean()

    assert jitter(runs["smooth"]) < 0.7 * jitter(runs["raw"])


def test_one_euro_filter_smooths_noise_and_follows_motion():
    rng = np.random.default_rng(0)
    t = np.arange(300) / 30.0
    truth = np.stack([100 + 40 * np.sin(t), 50 + 0 * t], -1)[:, None]  # (T, 1, 2)
    noisy = truth + rng.normal(0, 2, truth.shape)
    f = OneEuroFilter(fps=30, min_cutoff=1.0, beta=0.05)
    smooth = np.stack([f(x) for x in noisy])
    err_raw = np.abs(noisy - truth)[30:].mean()
    err_smooth = np.abs(smooth - truth)[30:].mean()
    assert err_smooth < 0.6 * err_raw
    with pytest.raises(ValueError, match="fps"):
        OneEuroFilter(fps=0)


def test_unreadable_image_in_a_folder_is_skipped_and_listed(checkpoint, fixtures_dir, tmp_path,
                                                            capsys):
    import shutil

    folder = tmp_path / "imgs"
    shutil.copytree(fixtures_dir / "300w", folder)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    (folder / "empty.png").write_bytes(b"")
    out = tmp_path / "out"
    aan(["predict", CONFIG, checkpoint, str(folder), "--out", str(out), "--no-draw",
         "--whole-image"])
    result = json.loads((out / "landmarks.json").read_text())
    assert sorted(r["image"] for r in result["images"]) == ["indoor_020.png", "indoor_029.png"]
    assert [(r["image"], r["reason"].split(" (")[0]) for r in result["skipped"]] == [
        ("broken.jpg", "not a readable image"), ("empty.png", "image file is empty")]
    captured = capsys.readouterr()
    assert "2 unreadable images skipped" in captured.out
    assert f"skipped {folder / 'broken.jpg'}" in captured.err
    # a single unreadable file is an error, not a skip
    with pytest.raises(SystemExit) as e:
        aan(["predict", CONFIG, checkpoint, str(folder / "broken.jpg"), "--out",
             str(tmp_path / "one")])
    assert e.value.code == 2
    assert "broken.jpg: not a readable image" in capsys.readouterr().err


@pytest.mark.slow
def test_compiled_predictor_gives_the_same_landmarks(checkpoint, fixtures_dir):
    from aan_components.inference import LandmarkPredictor
    from aan_components.inference.media_sources import iter_images, list_images

    root = fixtures_dir / "300w"
    runs = []
    for compile in (False, True):
        p = LandmarkPredictor(CONFIG, checkpoint, batch_size=2, compile=compile)
        runs.append([r.faces[0].keypoints for r in
                     p.predict(iter_images(list_images(root), root, None))])
    for a, b in zip(*runs, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-2)


def test_folder_skips_and_lists_bad_images_never_draws_them(checkpoint, fixtures_dir, tmp_path,
                                                            capsys):
    """Truncated, 1x1 and 400 Mpx images in a folder are skipped, listed (landmarks.json,
    stderr) and not drawn; a .ppm is read as when given directly (it was silently left out);
    exit 0 while one image was read, 2 (and no output) when none was."""
    folder = tmp_path / "imgs"
    folder.mkdir()
    for kind in ("truncated", "tiny", "huge"):
        bad_image(folder, fixtures_dir, kind)
    (folder / "full.jpg").unlink()
    img = cv2.imread(str(fixtures_dir / "300w" / "indoor_029.png"))
    cv2.imwrite(str(folder / "face.ppm"), img)
    out = tmp_path / "out"
    aan(["predict", CONFIG, checkpoint, str(folder), "--out", str(out), "--whole-image"])
    result = json.loads((out / "landmarks.json").read_text())
    assert [r["image"] for r in result["images"]] == ["face.ppm"]
    assert sorted(r["image"] for r in result["skipped"]) == ["huge.png", "tiny.png",
                                                             "truncated.jpg"]
    assert sorted(p.name for p in (out / "vis").iterdir()) == ["face.ppm"]
    err = capsys.readouterr().err
    assert f"skipped {folder / 'tiny.png'}: image is 1x1" in err
    (folder / "face.ppm").unlink()
    with pytest.raises(SystemExit) as e:
        aan(["predict", CONFIG, checkpoint, str(folder), "--out", str(tmp_path / "none"),
             "--whole-image"])
    assert e.value.code == 2
    assert "none of its 3 images could be read" in capsys.readouterr().err
    assert not (tmp_path / "none").exists()


def test_whole_image_mode_only_without_box_file(checkpoint, fixtures_dir, tmp_path, capsys):
    """With --whole-image (and no --boxes) each whole image is one face, said once and
    recorded as the faces' source; with a box file, an image it does not list has no faces
    (it used to fall back to the whole image silently)."""
    out = tmp_path / "out"
    aan(["predict", CONFIG, checkpoint, str(fixtures_dir / "300w"), "--out", str(out),
         "--no-draw", "--whole-image"])
    assert capsys.readouterr().err.count("each whole image is taken as one face") == 1
    result = json.loads((out / "landmarks.json").read_text())
    assert result["faces_from"] == "whole image"
    assert {f["box_source"] for r in result["images"] for f in r["faces"]} == {"whole image"}
    boxes = box_file(tmp_path, '{"indoor_029.png": [[100, 100, 600, 600]]}')
    aan(["predict", CONFIG, checkpoint, str(fixtures_dir / "300w"), "--out", str(out),
         "--no-draw", "--boxes", boxes])
    captured = capsys.readouterr()
    assert "whole image" not in captured.err
    assert "1 images without a box in" in captured.out
    faces = {r["image"]: r["faces"] for r in json.loads((out / "landmarks.json").read_text())[
        "images"]}
    assert faces["indoor_020.png"] == [] and len(faces["indoor_029.png"]) == 1


# ---------------------------------------------------- nothing lost, nothing silently wrong
def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_failed_rerun_keeps_the_previous_results(checkpoint, fixtures_dir, tmp_path, capsys):
    """Wrong input caught: a rerun into the same --out whose box file's LAST box lies outside
    its image. Batches were drawn before later boxes were checked, and the cleanup then
    deleted the drawings it had just overwritten (landmarks.json still listed them). Now
    every box is checked first and OUT_DIR is left byte for byte as it was."""
    out = tmp_path / "out"
    aan(["predict", CONFIG, checkpoint, str(fixtures_dir / "300w"), "--out", str(out),
         "--whole-image", "--batch-size", "1"])
    before = _snapshot(out)
    assert sorted(before) == ["landmarks.json", "vis/indoor_020.png", "vis/indoor_029.png"]
    boxes = box_file(tmp_path, '{"indoor_020.png": [[10, 10, 300, 300]], '
                             '"indoor_029.png": [[5000, 5000, 6000, 6000]]}')
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        aan(["predict", CONFIG, checkpoint, str(fixtures_dir / "300w"), "--out", str(out),
             "--boxes", boxes, "--batch-size", "1"])
    assert e.value.code == 2 and "lies entirely outside" in capsys.readouterr().err
    assert _snapshot(out) == before


def test_a_run_failing_while_it_writes_leaves_out_as_it_was(checkpoint, fixtures_dir,
                                                            tmp_path, monkeypatch):
    """The run is written into a fresh folder moved into OUT_DIR only when complete: a
    failure after the first drawing (here: the drawing of the second image fails, as a full
    disk would) leaves the previous run's files as they were and no temporary folder.
    Wrong input caught: the same failure overwrote the first drawing, then deleted it."""
    from aan_components.tools import predict

    out = tmp_path / "out"
    aan(["predict", CONFIG, checkpoint, str(fixtures_dir / "300w"), "--out", str(out),
         "--whole-image", "--batch-size", "1"])
    (out / "notes.txt").write_text("the user's own file")
    before = _snapshot(out)
    drawn = []
    real = predict.draw_faces

    def fail_on_second(image, boxes, keypoints, *rest):
        drawn.append(1)
        if len(drawn) == 2:
            raise OSError(28, "No space left on device", str(out / "vis"))
        return real(image, boxes, keypoints, *rest)

    monkeypatch.setattr(predict, "draw_faces", fail_on_second)
    with pytest.raises(SystemExit):
        aan(["predict", CONFIG, checkpoint, str(fixtures_dir / "300w"), "--out", str(out),
             "--whole-image", "--batch-size", "1"])
    assert len(drawn) == 2 and _snapshot(out) == before
    assert sorted(p.name for p in out.iterdir()) == ["landmarks.json", "notes.txt", "vis"]
    # a new output folder that fails is not left behind, nor are the folders made for it
    with pytest.raises(SystemExit):
        drawn.clear()
        aan(["predict", CONFIG, checkpoint, str(fixtures_dir / "300w"), "--out",
             str(tmp_path / "new" / "deeper"), "--whole-image", "--batch-size", "1"])
    assert not (tmp_path / "new").exists()


def test_an_image_format_without_colour_is_drawn_as_png(checkpoint, fixtures_dir, tmp_path):
    """Wrong input caught: a single image named einstein.dat (read by its content) and a
    .pgm in a folder; drawing them in their own format ended in OpenCV's traceback. Now
    each is drawn as its name + .png; its landmarks keep the image's name."""
    img = cv2.imread(str(fixtures_dir / "300w" / "indoor_029.png"))
    folder = tmp_path / "imgs"
    folder.mkdir()
    cv2.imwrite(str(folder / "grey.pgm"), cv2.cvtColor(img, cv2.COLOR_BGR2GRAY))
    cv2.imwrite(str(folder / "face.jpg"), img)
    (tmp_path / "einstein.dat").write_bytes((folder / "face.jpg").read_bytes())
    aan(["predict", CONFIG, checkpoint, str(tmp_path / "einstein.dat"), "--out",
         str(tmp_path / "one"), "--whole-image"])
    assert [p.name for p in (tmp_path / "one" / "vis").iterdir()] == ["einstein.dat.png"]
    assert cv2.imread(str(tmp_path / "one" / "vis" / "einstein.dat.png")).shape == img.shape
    aan(["predict", CONFIG, checkpoint, str(folder), "--out", str(tmp_path / "many"),
         "--whole-image"])
    assert sorted(p.name for p in (tmp_path / "many" / "vis").iterdir()) == \
        ["face.jpg", "grey.pgm.png"]
    result = json.loads((tmp_path / "many" / "landmarks.json").read_text())
    assert [r["image"] for r in result["images"]] == ["face.jpg", "grey.pgm"]


def test_truncated_video_says_what_was_not_decoded(checkpoint, fixtures_dir, tmp_path,
                                                   capsys):
    """Wrong input caught: an AVI whose header states 12 frames but whose data stops
    earlier. The frames it holds are predicted; the rest, and the boxes given for them,
    were dropped without a word. Now stderr and landmarks.json say which."""
    video = still_video(tmp_path / "full.avi", fixtures_dir, frames=12)
    data = video.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    boxes = box_file(tmp_path, json.dumps({str(i): [[100, 100, 700, 700]] for i in (1, 11, 12)}))
    out = tmp_path / "out"
    capsys.readouterr()
    aan(["predict", CONFIG, checkpoint, str(cut), "--out", str(out), "--boxes", boxes,
         "--no-draw"])
    result = json.loads((out / "landmarks.json").read_text())
    n = len(result["images"])
    assert 0 < n < 11
    assert result["video"] == dict(frames_stated=12, frames_decoded=n,
                                   frames_not_decoded=[n + 1, 12], boxes_not_used=["11", "12"])
    err = capsys.readouterr().err
    assert (f"cut.avi: decoded {n} of the 12 frames its header states: frames {n + 1}-12 "
            f"could not be decoded") in err
    assert "the boxes of 2 of them in" in err and "(keys 11, 12)" in err


def test_spreadsheet_csv_and_json_with_a_byte_order_mark_are_read(checkpoint, fixtures_dir,
                                                                   tmp_path):
    """Accept what users have: a spreadsheet's "CSV UTF-8" starts with a byte-order mark
    (the header read as '\\ufeffimage' and was refused); an editor's JSON may too."""
    csv_path = tmp_path / "b.csv"
    csv_path.write_text("image,x1,y1,x2,y2\r\nindoor_029.png,100,100,600,600\r\n",
                        encoding="utf-8-sig")
    json_path = tmp_path / "b.json"
    json_path.write_text('{"indoor_029.png": [[100, 100, 600, 600]]}', encoding="utf-8-sig")
    for boxes in (csv_path, json_path):
        out = tmp_path / boxes.suffix[1:]
        aan(["predict", CONFIG, checkpoint, str(fixtures_dir / "300w"), "--out", str(out),
             "--boxes", str(boxes), "--no-draw"])
        faces = {r["image"]: r["faces"] for r in
                 json.loads((out / "landmarks.json").read_text())["images"]}
        assert [f["box"] for f in faces["indoor_029.png"]] == [[100, 100, 600, 600]]
