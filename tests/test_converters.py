"""``aan convert``: the four converters on tiny archives in each raw format and on the real
fixtures; the ``.pts`` convention; atomic, idempotent and resumable output; bad input."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from raw_archives import FIXTURES, make_300vw, make_300w, make_aflw, make_celeba, write_pts

from aan_components.cli import main as aan
from aan_components.converters import ConversionError, read_pts


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def keypoints(ann: dict) -> np.ndarray:
    return np.array(ann["keypoints"]).reshape(-1, 3)


def convert_fails(capsys, *argv: str) -> str:
    """Run ``aan convert ...``, expect exit status 2, return stderr."""
    with pytest.raises(SystemExit) as e:
        aan(["convert", *map(str, argv)])
    assert e.value.code == 2
    return capsys.readouterr().err


# ------------------------------------------------------------------------------------ .pts
def test_pts_convention_pinned_on_real_300vw_fixture(tmp_path):
    """The .pts values are 1-based; we write 0-based (values - 1). MMPose's own json of the
    same frames copies the values unchanged: ours must be exactly 1 px lower."""
    aan(["convert", "300vw", str(FIXTURES / "300vw"), str(tmp_path)])
    ours = load(tmp_path / "annotations" / "face_landmarks_300vw_category1.json")
    mmpose = load(FIXTURES / "300vw" / "anno_300vw.json")
    mm_by_file = {im["file_name"].replace("/imgs/", "/"): im["id"] for im in mmpose["images"]}
    mm_anns = {a["image_id"]: a for a in mmpose["annotations"]}
    compared = 0
    for im, ann in zip(ours["images"], ours["annotations"], strict=True):
        if im["file_name"] in mm_by_file:
            theirs = keypoints(mm_anns[mm_by_file[im["file_name"]]])[:, :2]
            np.testing.assert_allclose(keypoints(ann)[:, :2], theirs - 1, atol=1e-3)
            compared += 1
    assert compared == 1  # 401/000732 (MMPose's file leaves out the broken 000731)
    raw = read_pts(FIXTURES / "300vw" / "401" / "annot" / "000732.pts")
    assert ours["info"]["coordinates"].startswith("0-based")
    # --keep-pts-values writes them unchanged
    aan(["convert", "300vw", str(FIXTURES / "300vw"), str(tmp_path / "keep"),
         "--keep-pts-values"])
    kept = load(tmp_path / "keep" / "annotations" / "face_landmarks_300vw_category1.json")
    np.testing.assert_allclose(keypoints(kept["annotations"][1])[:, :2], raw, atol=1e-3)


@pytest.mark.parametrize("text, message", [
    ("", "empty file"),
    ("version: 1\nn_points: 2\n1 2\n3 4\n}\n", "expected a header line or '{'"),
    ("version: 1\nn_points: 2\n{\n1 2\n3 4\n", "no closing '}'"),
    ("version: 1\nn_points: 2\n{\n1 2\n3 abc\n}\n", "line 5: expected two numbers"),
    ("version: 1\nn_points: 2\n{\n1 2\n3 nan\n}\n", "line 5: non-finite"),
    ("version: 1\nn_points: 2\n{\n1 2\ninf 4\n}\n", "line 5: non-finite"),
    ("version: 1\nn_points: 3\n{\n1 2\n3 4\n}\n", "n_points 3 but the file has 2"),
    ("version: 1\nn_points: x\n{\n1 2\n}\n", "line 2: n_points is not an integer"),
    ("version: 1\nn_points: 2\n{\n1 2 5\n3 4\n}\n", "line 4: expected two numbers"),
])
def test_pts_errors_name_file_and_line(tmp_path, text, message):
    p = tmp_path / "bad.pts"
    p.write_text(text)
    with pytest.raises(ConversionError, match=message) as e:
        read_pts(p, num_points=2)
    assert str(p) in str(e.value)


def test_pts_wrong_point_count(tmp_path):
    write_pts(tmp_path / "a.pts", np.zeros((67, 2)))
    with pytest.raises(ConversionError, match="expected 68 points, got 67"):
        read_pts(tmp_path / "a.pts", 68)


# ------------------------------------------------------------------------------------ 300W
def test_300w_splits_and_coordinates(tmp_path):
    """Splits, and the ``.pts`` convention against MMPose's json of the same real faces
    (whose values are the raw ``.pts`` values): ours are those values - 1, and
    ``--keep-pts-values`` writes them unchanged. Wrong input caught: a converter that keeps
    the values by default (or subtracts 1 twice)."""
    raw, out = tmp_path / "raw", tmp_path / "out"
    mmpose_values = make_300w(raw)
    aan(["convert", "300w", str(raw), str(out)])
    aan(["convert", "300w", str(raw), str(tmp_path / "keep"), "--keep-pts-values"])
    kept = load(tmp_path / "keep" / "annotations" / "face_landmarks_300w_full.json")
    counts = {s: len(load(out / "annotations" / f"face_landmarks_300w_{s}.json")["images"])
              for s in ("train", "common", "challenging", "full")}
    assert counts == {"train": 3, "common": 2, "challenging": 1, "full": 3}
    full = load(out / "annotations" / "face_landmarks_300w_full.json")
    assert sorted(im["file_name"].split("/")[0] for im in full["images"]) == \
        ["helen", "ibug", "lfpw"]
    for im, ann, kept_ann in zip(full["images"], full["annotations"], kept["annotations"],
                                 strict=True):
        theirs = mmpose_values[im["file_name"]]
        np.testing.assert_allclose(keypoints(ann)[:, :2], theirs - 1, atol=1e-3)
        np.testing.assert_allclose(keypoints(kept_ann)[:, :2], theirs, atol=1e-3)
        assert (out / "images" / im["file_name"]).is_file()
        x, y, w, h = ann["bbox"]
        assert ann["scale"] == pytest.approx(max(w, h) / 200, abs=1e-4)


def test_300w_is_idempotent_and_builds_in_mmpose(tmp_path):
    raw, out = tmp_path / "raw", tmp_path / "out"
    make_300w(raw)
    aan(["convert", "300w", str(raw), str(out)])
    first = (out / "annotations" / "face_landmarks_300w_train.json").read_bytes()
    aan(["convert", "300w", str(raw), str(out)])
    assert (out / "annotations" / "face_landmarks_300w_train.json").read_bytes() == first
    from mmpose.registry import DATASETS

    ds = DATASETS.build(dict(type="Face300WDataset", data_root=str(out),
                             ann_file="annotations/face_landmarks_300w_full.json",
                             data_prefix=dict(img="images/"), pipeline=[]))
    assert len(ds) == 3 and ds[0]["keypoints"].shape == (1, 68, 2)


def test_300w_bad_pts_leaves_existing_outputs_untouched(tmp_path, capsys):
    raw, out = tmp_path / "raw", tmp_path / "out"
    make_300w(raw)
    aan(["convert", "300w", str(raw), str(out)])
    before = {p: p.read_bytes() for p in (out / "annotations").iterdir()}
    bad = raw / "ibug" / "face5.pts"
    bad.write_text(bad.read_text().replace("\n", "\noops\n", 4))
    err = convert_fails(capsys, "300w", raw, out)
    assert "face5.pts" in err and "line" in err
    assert {p: p.read_bytes() for p in (out / "annotations").iterdir()} == before


def test_300w_missing_image(tmp_path, capsys):
    """(An absent source folder is no longer an error: tests/test_300w_partial.py.)"""
    raw = tmp_path / "raw"
    make_300w(raw)
    next((raw / "afw").glob("*.png")).unlink()
    err = convert_fails(capsys, "300w", raw, tmp_path / "out")
    assert "afw/face0.pts" in err and "no image" in err
    assert not (tmp_path / "out" / "annotations").exists()


def test_300w_box_outside_image(tmp_path, capsys):
    raw = tmp_path / "raw"
    truth = make_300w(raw)
    write_pts(raw / "lfpw" / "testset" / "face4.pts", truth["lfpw/testset/face4.png"] + 5000)
    err = convert_fails(capsys, "300w", raw, tmp_path / "out")
    assert "face4.pts" in err and "field 'bbox'" in err and "outside" in err


# ------------------------------------------------------------------------------------ AFLW
def test_aflw_split_missing_points_and_box_size(tmp_path):
    raw, out = tmp_path / "raw", tmp_path / "out"
    mat = make_aflw(raw)
    aan(["convert", "aflw", str(raw), str(out), "--num-train", "2"])
    ann = {s: load(out / "annotations" / f"face_landmarks_aflw_{s}.json")
           for s in ("train", "test", "test_frontal")}
    assert [len(a["images"]) for a in ann.values()] == [2, 2, 1]
    # ra = [3, 1, 4, 2]: faces 3 and 1 train, 4 and 2 test; face 4 has two missing points
    test = ann["test"]["annotations"]
    kp4 = keypoints(test[0])
    assert kp4[[0, 5], 2].tolist() == [0, 0] and (kp4[[1, 2, 3], 2] > 0).all()
    assert test[0]["num_keypoints"] == 17
    x1, x2, y1, y2 = mat["bbox"][3]
    assert test[0]["box_size"] == pytest.approx(np.sqrt((x2 - x1) * (y2 - y1)), abs=1e-3)
    fixture = load(FIXTURES / "aflw" / "test_aflw.json")["annotations"]
    # face 2 holds fixture face 1's values in the .mat. Ours are the .mat values - 1
    # (MATLAB's 1-based convention, as the converter documents). No independent source pins
    # that offset offline: SAN's and FaRL's loaders read the .mat values unchanged (what
    # --keep-mat-values writes). The NME does not depend on it (train and test move alike).
    np.testing.assert_allclose(keypoints(test[1])[:, :2],
                               keypoints(fixture[1])[:, :2] - 1, atol=1e-3)
    assert test[1]["box_size"] == pytest.approx(fixture[1]["box_size"], abs=1e-3)
    from mmpose.registry import DATASETS

    ds = DATASETS.build(dict(type="AFLWDataset", data_root=str(out),
                             ann_file="annotations/face_landmarks_aflw_test.json",
                             data_prefix=dict(img="images/"), pipeline=[], test_mode=True))
    assert ds[0]["keypoints_visible"][0, [0, 5]].tolist() == [0, 0]


def test_aflw_frontal_definitions(tmp_path):
    """AFLW-Frontal: ``all-labelled`` (FaRL's) keeps test face 2 (all 19 points labelled);
    ``inside-box`` (SAN's) drops it once its box no longer contains every point. Wrong input
    caught: the shrunken box with the default definition (it stays frontal there)."""
    from scipy.io import savemat

    raw = tmp_path / "raw"
    mat = make_aflw(raw)
    x1, x2, y1, y2 = mat["bbox"][1]  # face 2: a test face, all points labelled
    mat["bbox"][1] = [x1, x2, y1, y1 + 0.5 * (y2 - y1)]  # the chin now lies below the box
    savemat(raw / "AFLWinfo_release.mat", mat)
    frontal = {}
    for definition in ("all-labelled", "inside-box"):
        out = tmp_path / definition
        aan(["convert", "aflw", str(raw), str(out), "--num-train", "2",
             "--frontal", definition])
        js = load(out / "annotations" / "face_landmarks_aflw_test_frontal.json")
        frontal[definition] = [im["file_name"] for im in js["images"]]
        assert definition.split("-")[0] in js["info"]["frontal"]
    assert frontal == {"all-labelled": ["0/image04476.jpg"], "inside-box": []}


@pytest.mark.parametrize("change, message", [
    (lambda m: m.pop("mask_new"), "field 'mask_new': missing"),
    (lambda m: m.update(data=m["data"][:, :30]), "field 'data': expected a numeric 4 x 38"),
    (lambda m: m.update(bbox=m["bbox"][:3]), "field 'bbox'"),
    (lambda m: m.update(ra=np.array([[1, 1, 2, 3]])), "field 'ra': expected a permutation"),
    (lambda m: m.update(mask_new=m["mask_new"] * 2), "field 'mask_new': values must be 0 or 1"),
])
def test_aflw_bad_mat_fields(tmp_path, capsys, change, message):
    from scipy.io import savemat

    raw = tmp_path / "raw"
    mat = make_aflw(raw)
    change(mat)
    savemat(raw / "AFLWinfo_release.mat", mat)
    err = convert_fails(capsys, "aflw", raw, tmp_path / "out", "--num-train", "2")
    assert "AFLWinfo_release.mat" in err and message in err
    assert not (tmp_path / "out").exists()


def test_aflw_not_a_mat_file(tmp_path, capsys):
    raw = tmp_path / "raw"
    make_aflw(raw)
    (raw / "AFLWinfo_release.mat").write_bytes(b"\x00garbage" * 10)
    err = convert_fails(capsys, "aflw", raw, tmp_path / "out", "--num-train", "2")
    assert "not a readable MATLAB" in err


# ---------------------------------------------------------------------------------- CelebA
def test_celeba_partitions_and_points(tmp_path):
    raw, out = tmp_path / "raw", tmp_path / "out"
    truth = make_celeba(raw)
    aan(["convert", "celeba", str(raw), str(out)])
    train = load(out / "annotations" / "face_landmarks_celeba_train.json")
    test = load(out / "annotations" / "face_landmarks_celeba_test.json")
    assert len(train["images"]) == 4 and len(test["images"]) == 2  # 0+1 train, 2 test
    for im, ann in zip(test["images"], test["annotations"], strict=True):
        np.testing.assert_allclose(keypoints(ann)[:, :2], truth[im["file_name"]])
    from mmpose.registry import DATASETS

    ds = DATASETS.build(dict(type="CelebADataset", data_root=str(out),
                             ann_file="annotations/face_landmarks_celeba_test.json",
                             data_prefix=dict(img="images/"), pipeline=[], test_mode=True))
    assert len(ds) == 2 and ds.metainfo["dataset_name"] == "celeba"
    assert ds[0]["keypoints"].shape == (1, 5, 2)


@pytest.mark.parametrize("file, edit, message", [
    ("Anno/list_landmarks_celeba.txt", lambda t: t.rsplit("\n", 2)[0] + "\n000006.jpg 1 2 3\n",
     "line 8: expected 11 fields, got 4"),
    ("Anno/list_landmarks_celeba.txt", lambda t: t.replace("000003.jpg", "3.gif"),
     "line 5: bad image id '3.gif'"),
    ("Anno/list_landmarks_celeba.txt", lambda t: "7" + t[1:], "line 1: first line declares 7"),
    ("Anno/list_bbox_celeba.txt", lambda t: t.replace("000002.jpg ", "000002.jpg x"),
     "line 4: non-numeric value"),
    ("Eval/list_eval_partition.txt", lambda t: t.replace("000004.jpg 0", "000004.jpg 5"),
     "line 4: partition must be 0, 1 or 2"),
    ("Eval/list_eval_partition.txt", lambda t: t.replace("000005.jpg", "000099.jpg"),
     "line 5: image 000099.jpg is not in list_landmarks_celeba.txt"),
    ("Eval/list_eval_partition.txt", lambda t: t.rsplit("\n", 2)[0] + "\n",
     "image 000006.jpg (and 0 more) not in list_eval_partition.txt"),
])
def test_celeba_bad_lists(tmp_path, capsys, file, edit, message):
    raw = tmp_path / "raw"
    make_celeba(raw)
    p = raw / file
    p.write_text(edit(p.read_text()))
    err = convert_fails(capsys, "celeba", raw, tmp_path / "out")
    assert p.name in err and message in err
    assert not (tmp_path / "out").exists()


def test_celeba_bad_images(tmp_path, capsys):
    raw = tmp_path / "raw"
    make_celeba(raw)
    img = raw / "Img" / "img_celeba" / "000002.jpg"
    img.write_bytes(b"")
    assert "000002.jpg: image file is empty" in convert_fails(capsys, "celeba", raw,
                                                              tmp_path / "out")
    img.write_bytes(b"not a jpeg at all")
    assert "000002.jpg: not a readable image" in convert_fails(capsys, "celeba", raw,
                                                               tmp_path / "out")
    img.unlink()
    assert "000002.jpg: image file not found" in convert_fails(capsys, "celeba", raw,
                                                               tmp_path / "out")


# ----------------------------------------------------------------------------------- 300VW
def test_300vw_videos_categories_and_resume(tmp_path, monkeypatch):
    raw, out = tmp_path / "raw", tmp_path / "out"
    make_300vw(raw)
    aan(["convert", "300vw", str(raw), str(out), "--frame-step", "2"])
    train = load(out / "annotations" / "face_landmarks_300vw_train.json")
    cat3 = load(out / "annotations" / "face_landmarks_300vw_category3.json")
    assert [im["file_name"] for im in train["images"]] == ["001/000001.jpg", "001/000003.jpg",
                                                            "001/000005.jpg"]
    assert len(cat3["images"]) == 3  # video 410 is category 3
    assert sorted(p.name for p in (out / "images" / "410").glob("*.jpg")) == \
        ["000001.jpg", "000003.jpg", "000005.jpg"]
    pts = read_pts(raw / "410" / "annot" / "000003.pts")
    np.testing.assert_allclose(keypoints(cat3["annotations"][1])[:, :2], pts - 1, atol=1e-3)
    # resumable: a second run decodes nothing (the video reader would fail if it were used)
    import cv2

    monkeypatch.setattr(cv2, "VideoCapture", lambda *a: pytest.fail("decoded again"))
    aan(["convert", "300vw", str(raw), str(out), "--frame-step", "2"])
    # a half-done video (interrupted run) is redone: its temporary folder is not reused
    assert not list((out / "images").glob(".*partial"))


def test_300vw_frame_number_is_the_decoded_frame_by_content(tmp_path):
    """``000003.jpg`` holds the third decoded frame of ``vid.avi`` (the .pts numbering is
    1-based): among the six frames rendered into the video, the extracted image is closest
    to the third. Wrong input caught: a 0-based frame count (000003 = the fourth frame), or
    frames written under the name of the previous one."""
    import cv2

    from aan_core.data.synthetic_faces import render_synthetic_face

    raw, out = tmp_path / "raw", tmp_path / "out"
    make_300vw(raw, videos=("001",), frames=6)
    aan(["convert", "300vw", str(raw), str(out)])
    for number in (1, 3, 6):
        image = cv2.imread(str(out / "images" / "001" / f"{number:06d}.jpg")).astype(float)
        errors = [np.abs(image - render_synthetic_face(1, f, 96, 68).image).mean()
                  for f in range(1, 7)]
        assert int(np.argmin(errors)) + 1 == number, errors


def test_300vw_reads_mmpose_png_layout(tmp_path):
    """MMPose's layout: ``<video>/imgs/%06d.png`` (ffmpeg, from 1) + ``annot``. The frames are
    read as they are (copied, named .png in the json) with the same points as the jpg layout.
    Wrong input caught: a converter that only looks for ``imgs/*.jpg`` (it finds no frame)."""
    import shutil

    import cv2

    raw = tmp_path / "raw"
    for video in ("001", "401"):
        shutil.copytree(FIXTURES / "300vw" / video / "annot", raw / video / "annot")
        (raw / video / "imgs").mkdir(parents=True)
        for jpg in (FIXTURES / "300vw" / video / "imgs").glob("*.jpg"):
            cv2.imwrite(str(raw / video / "imgs" / f"{jpg.stem}.png"), cv2.imread(str(jpg)))
    aan(["convert", "300vw", str(raw), str(tmp_path / "png")])
    aan(["convert", "300vw", str(FIXTURES / "300vw"), str(tmp_path / "jpg")])
    for split in ("train", "category1"):
        png = load(tmp_path / "png" / "annotations" / f"face_landmarks_300vw_{split}.json")
        jpg = load(tmp_path / "jpg" / "annotations" / f"face_landmarks_300vw_{split}.json")
        assert [im["file_name"] for im in png["images"]] == \
            [im["file_name"].replace(".jpg", ".png") for im in jpg["images"]]
        assert len(png["images"]) == 2
        for im, a, b in zip(png["images"], png["annotations"], jpg["annotations"], strict=True):
            assert (tmp_path / "png" / "images" / im["file_name"]).is_file()
            assert a["keypoints"] == b["keypoints"]


def test_300vw_broken_frames_option_matches_mmpose_json(tmp_path, capsys):
    """``--exclude-broken-frames`` with MMPose's real ``broken_frames.npy`` leaves out exactly
    the frames MMPose's own json of the fixture leaves out (401/000731); the default keeps
    every annotated frame. Wrong input caught: the default run (000731 kept) compared with
    MMPose's json fails the equality."""
    mmpose = load(FIXTURES / "300vw" / "anno_300vw.json")
    theirs = sorted(im["file_name"].replace("/imgs/", "/") for im in mmpose["images"])
    names = {}
    for tag, extra in (("all", []), ("mmpose", ["--exclude-broken-frames",
                                                 FIXTURES / "300vw" / "broken_frames.npy"])):
        aan(["convert", "300vw", str(FIXTURES / "300vw"), str(tmp_path / tag), *map(str, extra)])
        js = [load(tmp_path / tag / "annotations" / f"face_landmarks_300vw_{s}.json")
              for s in ("train", "test")]
        names[tag] = sorted(im["file_name"] for j in js for im in j["images"])
    assert names["mmpose"] == theirs
    assert names["all"] == sorted([*theirs, "401/000731.jpg"])
    out = capsys.readouterr().out
    assert "excluded_broken_frames  1" in out
    info = load(tmp_path / "mmpose" / "annotations" / "face_landmarks_300vw_test.json")["info"]
    assert info["broken_frames"].startswith("excluded (1 frames")


def test_300vw_broken_frames_file_is_never_unpickled_freely(tmp_path, capsys):
    """A ``.npy`` whose pickle names any other global is refused, naming the file.
    Wrong input caught: a pickled ``os.system`` call (np.load(allow_pickle=True) would run
    it)."""
    import os
    import pickle

    class Payload:
        def __reduce__(self):
            return (os.system, ("touch " + str(tmp_path / "ran"),))

    bad = tmp_path / "bad.npy"
    header = np.lib.format.header_data_from_array_1_0(np.empty((), object))
    with open(bad, "wb") as f:
        np.lib.format.write_array_header_1_0(f, header)
        pickle.dump(Payload(), f)
    err = convert_fails(capsys, "300vw", FIXTURES / "300vw", tmp_path / "out",
                        "--exclude-broken-frames", bad)
    assert "bad.npy" in err and "refusing to load the global" in err
    assert not (tmp_path / "ran").exists()


def test_300vw_truncated_video_skips_and_reports_frames(tmp_path, capsys):
    raw, out = tmp_path / "raw", tmp_path / "out"
    make_300vw(raw, videos=("001",), frames=8)
    video = raw / "001" / "vid.avi"
    data = video.read_bytes()
    video.write_bytes(data[: len(data) // 2])
    aan(["convert", "300vw", str(raw), str(out)])
    captured = capsys.readouterr()
    failed = load(out / "annotations" / "failed_frames_300vw.json")["001"]
    train = load(out / "annotations" / "face_landmarks_300vw_train.json")
    assert failed and len(train["images"]) + len(failed) == 8
    assert "failed to decode" in captured.err
    assert re.search(rf"\n  failed_frames +{len(failed)}\n", captured.out)


def test_300vw_unreadable_video(tmp_path, capsys):
    raw = tmp_path / "raw"
    make_300vw(raw, videos=("001",), frames=2)
    (raw / "001" / "vid.avi").write_bytes(b"RIFF0000AVI garbage")
    err = convert_fails(capsys, "300vw", raw, tmp_path / "out")
    assert "001/vid.avi" in err
    assert not (tmp_path / "out" / "annotations").exists()


# ---------------------------------------------------- nothing lost, nothing silently wrong
def test_300vw_never_deletes_a_folder_it_did_not_write(tmp_path, capsys):
    """Wrong input caught: OUT_DIR/images/001/ holding the user's own files (no converter
    record). 300VW ran rmtree on it and exited 0; now it refuses OUT_DIR/images, as the
    other converters do, and the user's files stay. So does a link (another converter's)."""
    raw, out = tmp_path / "raw", tmp_path / "out"
    make_300vw(raw, videos=("001",), frames=2)
    mine = out / "images" / "001"
    mine.mkdir(parents=True)
    (mine / "holiday.jpg").write_bytes(b"the user's photo")
    err = convert_fails(capsys, "300vw", raw, out)
    assert f"{mine}: exists and was not written by aan convert 300vw" in err
    assert (mine / "holiday.jpg").read_bytes() == b"the user's photo"
    assert sorted(p.name for p in out.rglob("*")) == ["001", "holiday.jpg", "images"]
    # a link made by another converter into the same OUT_DIR
    other = tmp_path / "other"
    (other / "images").parent.mkdir(parents=True)
    (other / "images").symlink_to(raw, target_is_directory=True)
    err = convert_fails(capsys, "300vw", raw, other)
    assert "images: exists and is not a folder of 300VW frames" in err
    assert (other / "images").is_symlink() and (raw / "001" / "vid.avi").is_file()


@pytest.mark.parametrize("damage, message", [
    (lambda raw: (raw / "001" / "vid.avi").write_bytes(b"RIFF0000AVI garbage"),
     "001/vid.avi: OpenCV cannot open this video"),
    (lambda raw: [p.unlink() for p in (raw / "001" / "annot").glob("*.pts")],
     "001/annot: no .pts files (an empty annotation folder)"),
    (lambda raw: ((raw / "001" / "vid.avi").unlink(), (raw / "001" / "imgs").mkdir()),
     "001/imgs: none of the 2 annotated frames has an image here"),
])
def test_300vw_failed_run_leaves_nothing_behind(tmp_path, capsys, damage, message):
    """Wrong input caught: an unreadable video left empty OUT_DIR/ and OUT_DIR/images/
    behind; an empty annot/ or imgs/ wrote a 0-face json and exited 0. Every video is now
    checked before anything is written."""
    raw, out = tmp_path / "raw", tmp_path / "out" / "deeper"
    make_300vw(raw, videos=("001", "410"), frames=2)
    damage(raw)
    err = convert_fails(capsys, "300vw", raw, out)
    assert message in err
    assert not (tmp_path / "out").exists()


def test_300vw_failure_while_writing_removes_what_this_run_made(tmp_path, capsys,
                                                                monkeypatch):
    """A frame that cannot be written (a full disk) fails the run naming the file, and the
    run's partial folder and the folders it created are removed. Wrong input caught:
    cv2.imwrite returning False was ignored (the json listed frames that were never
    written)."""
    import cv2

    raw, out = tmp_path / "raw", tmp_path / "out"
    make_300vw(raw, videos=("001",), frames=2)
    monkeypatch.setattr(cv2, "imwrite", lambda *a, **k: False)
    err = convert_fails(capsys, "300vw", raw, out)
    assert "000001.jpg: could not write this frame" in err
    assert not out.exists()


def test_300vw_jpeg_quality_is_range_checked(tmp_path, capsys):
    raw = tmp_path / "raw"
    make_300vw(raw, videos=("001",), frames=2)
    for quality in ("-5", "101"):
        err = convert_fails(capsys, "300vw", raw, tmp_path / "out", "--jpeg-quality", quality)
        assert f"argument --jpeg-quality: must be an integer in 0..100, got {quality}" in err
    assert not (tmp_path / "out").exists()


def _cut_behind_the_header(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.8)])


@pytest.mark.parametrize("dataset", ["300w", "celeba"])
def test_converters_decode_every_image(tmp_path, capsys, dataset):
    """Wrong input caught: an image cut short behind an intact header (its size reads, its
    pixels do not). The converters read only the header and wrote it into the json; now
    each image is decoded, and the file is named."""
    raw = tmp_path / "raw"
    if dataset == "300w":
        make_300w(raw)
        image = next((raw / "ibug").glob("*.png"))
    else:
        make_celeba(raw)
        image = raw / "Img" / "img_celeba" / "000002.jpg"
    _cut_behind_the_header(image)
    from PIL import Image

    assert Image.open(image).size  # the header still reads
    err = convert_fails(capsys, dataset, raw, tmp_path / "out")
    assert f"{image}: the image could not be decoded (truncated or corrupt file)" in err
    assert not (tmp_path / "out").exists()


def test_300vw_frame_images_are_decoded_too(tmp_path, capsys):
    """MMPose's imgs/ layout: a frame image cut short behind its header is a failed frame,
    named and counted, never an annotation (it was copied and listed)."""
    import shutil

    raw = tmp_path / "raw"
    for video in ("001", "401"):
        shutil.copytree(FIXTURES / "300vw" / video, raw / video)
    bad = raw / "401" / "imgs" / "000732.jpg"
    _cut_behind_the_header(bad)
    aan(["convert", "300vw", str(raw), str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert f"{bad}: the image could not be decoded" in captured.err
    assert load(tmp_path / "out" / "annotations" / "failed_frames_300vw.json") == {"401": [732]}
    cat1 = load(tmp_path / "out" / "annotations" / "face_landmarks_300vw_category1.json")
    assert [im["file_name"] for im in cat1["images"]] == ["401/000731.jpg"]
