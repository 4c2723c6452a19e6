"""Bad input to training and ``aan check`` (annotation JSON, configs, images, missing data)
gets a clear error naming the file and the field or line; nothing half-written; corrupt
training images are reported by path and skipped.

(More of the malformed-input corpus lives with each reader: tests/test_converters.py for
.pts, AFLW .mat, CelebA lists, videos; tests/test_inference_bad_input.py for checkpoints,
images and box files given to aan predict / export / attention; what training does with
non-finite numbers: tests/test_training_numerics.py.)"""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest
from conftest import REPO
from fixture_runs import fixture_train_config
from mmengine.config import Config
from mmengine.runner import Runner

from aan_components.cli import main as aan
from aan_components.datasets import AnnotationError, check_face_annotations

AFLW_JSON = "test_aflw.json"


def aflw_json(fixtures_dir, tmp_path, edit) -> str:
    data = json.loads((fixtures_dir / "aflw" / AFLW_JSON).read_text())
    edit(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    return str(path)


# --------------------------------------------------------------------------- COCO json
@pytest.mark.parametrize("edit, message", [
    (lambda d: d.pop("annotations"), "field 'annotations': missing or not a list"),
    (lambda d: d["images"][0].pop("file_name"), "images[0]: field 'file_name': missing"),
    (lambda d: d["annotations"][1].pop("keypoints"),
     "annotations[1] (id 68): field 'keypoints': missing"),
    (lambda d: d["annotations"][0].update(keypoints=d["annotations"][0]["keypoints"][:-3]),
     "annotations[0] (id 3): field 'keypoints': 54 values = 18 points, expected 19"),
    (lambda d: d["annotations"][0]["keypoints"].__setitem__(4, "12"),
     "field 'keypoints': expected a list of x, y, v numbers"),
    (lambda d: d["annotations"][0]["keypoints"].__setitem__(2, 7),
     "field 'keypoints': visibility values must be 0, 1 or 2"),
    (lambda d: d["annotations"][1].update(bbox=[10, 10, -5, 20]),
     "annotations[1] (id 68): field 'bbox': width and height must be > 0"),
    (lambda d: d["annotations"][1].update(image_id=999), "field 'image_id': 999 is not the id"),
    (lambda d: [a.pop(k) for a in d["annotations"] for k in ("bbox", "center")],
     "field 'bbox': missing (nor 'center' + 'scale')"),
])
def test_malformed_annotation_json(fixtures_dir, tmp_path, edit, message):
    path = aflw_json(fixtures_dir, tmp_path, edit)
    with pytest.raises(AnnotationError) as e:
        check_face_annotations(path, 19)
    assert str(e.value).startswith(path) and message in str(e.value)


def test_nan_in_json_and_invalid_json_are_named(tmp_path, fixtures_dir):
    text = (fixtures_dir / "aflw" / AFLW_JSON).read_text()
    data = json.loads(text)
    data["annotations"][0]["keypoints"][0] = float("nan")
    p = tmp_path / "nan.json"
    p.write_text(json.dumps(data))  # Python writes NaN, which json.loads accepts
    with pytest.raises(AnnotationError, match="non-finite value"):
        check_face_annotations(p, 19)
    p.write_text(text[:200])
    with pytest.raises(AnnotationError, match=r"nan.json: line \d+: invalid JSON"):
        check_face_annotations(p, 19)


def test_a_json_key_given_twice_is_refused(tmp_path, fixtures_dir):
    """A file means exactly one thing: Python's json keeps the last of two equal
    keys without a word. Wrong input caught: an annotation whose 'bbox' is given twice."""
    text = (fixtures_dir / "aflw" / AFLW_JSON).read_text()
    p = tmp_path / "twice.json"
    p.write_text(text.replace('"bbox":', '"bbox": [0, 0, 1, 1], "bbox":', 1))
    with pytest.raises(AnnotationError) as e:
        check_face_annotations(p, 19)
    assert str(e.value) == f"{p}: key 'bbox' appears twice in one object (which one is " \
                           f"meant? keys must be unique)"
    p.write_text(text, encoding="utf-8-sig")  # an editor's byte-order mark is fine
    assert check_face_annotations(p, 19)


# -------------------------------------------------------------------------------- configs
def check_fails(capsys, *argv) -> str:
    with pytest.raises(SystemExit) as e:
        aan(["check", *map(str, argv)])
    assert e.value.code == 2
    return capsys.readouterr().err


def aflw_options(fixtures_dir, ann=AFLW_JSON) -> list[str]:
    return [f"{s}_dataloader.dataset.{k}={v}" for s in ("train", "val", "test")
            for k, v in (("data_root", fixtures_dir / "aflw"), ("ann_file", ann))]


def test_check_passes_a_good_config(fixtures_dir, capsys):
    aan(["check", str(REPO / "mm_configs" / "aan_aflw.py"), "--images", "--cfg-options",
         *aflw_options(fixtures_dir), "train_dataloader.dataset.data_prefix.img=",
         "val_dataloader.dataset.data_prefix.img=", "test_dataloader.dataset.data_prefix.img="])
    assert "OK" in capsys.readouterr().out


@pytest.mark.parametrize("options, message", [
    (["model.backbone.type=AANBackbon"], "field model.backbone.type: unknown type 'AANBackbon'"),
    (["model.head.loss.loss.type=MSELos"],
     "field model.head.loss.loss.type: unknown type 'MSELos'"),
    (["model.head.embedding_dim=0"], "embedding_dim must be >= 1"),
    (["model.head.num_joints=68"],
     "field model.head.num_joints: 68, but train_dataloader.dataset (AANAFLWDataset) has 19"),
    (["train_dataloader.dataset.type=AFLWDatset"], "field train_dataloader.dataset.type"),
])
def test_bad_configs_name_file_and_field(fixtures_dir, capsys, options, message):
    err = check_fails(capsys, REPO / "mm_configs" / "aan_aflw.py", "--cfg-options",
                      *aflw_options(fixtures_dir), *options)
    assert "aan_aflw.py" in err and message in err


def test_config_syntax_error_names_the_line(tmp_path, capsys):
    bad = tmp_path / "bad_config.py"
    bad.write_text("_base_ = ['x.py']\nmodel = dict(type='AANBackbone'\n")
    err = check_fails(capsys, bad)
    assert "bad_config.py" in err


def test_wrong_num_joints_in_the_annotations(fixtures_dir, capsys):
    err = check_fails(capsys, REPO / "mm_configs" / "aan_300w.py", "--cfg-options",
                      *aflw_options(fixtures_dir))
    assert "test_aflw.json: annotations[0] (id 3): field 'keypoints': 57 values = 19 " \
           "points, expected 68" in err


# --------------------------------------------------------------------------------- images
def load(path, on_error="raise"):
    from mmpose.registry import TRANSFORMS

    t = TRANSFORMS.build(dict(type="LoadFaceImage", on_error=on_error))
    return t(dict(img_path=str(path)))


@pytest.fixture
def image_dir(fixtures_dir, tmp_path):
    src = fixtures_dir / "300w" / "indoor_029.png"
    img = cv2.imread(str(src))
    d = tmp_path / "imgs"
    d.mkdir()
    cv2.imwrite(str(d / "good.jpg"), img)
    data = (d / "good.jpg").read_bytes()
    (d / "truncated.jpg").write_bytes(data[: len(data) // 3])
    (d / "empty.jpg").write_bytes(b"")
    (d / "text.jpg").write_text("not an image")
    shutil.copyfile(src, d / "png_named.jpg")  # wrong extension
    cv2.imwrite(str(d / "sixteen.png"), (img.astype(np.uint16) * 257))
    cv2.imwrite(str(d / "gray.png"), cv2.cvtColor(img, cv2.COLOR_BGR2GRAY))
    from PIL import Image

    Image.new("1", (20000, 20000)).save(d / "huge.png")  # 400 Mpx, a small file
    cv2.imwrite(str(d / "tiny.png"), img[:1, :1])
    return d


@pytest.mark.parametrize("name, message", [
    ("truncated.jpg", "could not be decoded"),
    ("empty.jpg", "image file is empty"),
    ("text.jpg", "not a readable image"),
    ("missing.jpg", "image file not found"),
    ("huge.png", "20000x20000 (400 Mpx), over the limit of 150 Mpx"),
    ("tiny.png", "image is 1x1, smaller than the minimum 16 px a side"),
])
def test_unreadable_images_are_named(image_dir, name, message):
    import re

    from aan_components.datasets import UnreadableImageError

    with pytest.raises(UnreadableImageError, match=re.escape(message)) as e:
        load(image_dir / name)
    assert str(image_dir / name) in str(e.value)
    assert load(image_dir / name, on_error="skip") is None


@pytest.mark.parametrize("name, message", [
    ("truncated.jpg", "the image could not be decoded (truncated"),  # cv2.imread grey-fills
    ("empty.jpg", "image file is empty"),
    ("text.jpg", "not a readable image"),
    ("tiny.png", "image is 1x1, smaller than the minimum 16 px"),  # was accepted
    ("huge.png", "20000x20000 (400 Mpx), over the limit"),  # was decoded: 3.5 GB, 19 s
])
def test_one_image_reader_refuses_with_the_path(image_dir, name, message):
    """``read_image``, the reader of aan predict / attention / demo and LoadFaceImage."""
    from aan_core.utils.image_file import read_image
    from aan_core.utils.input_errors import UnreadableImageError

    with pytest.raises(UnreadableImageError) as e:
        read_image(image_dir / name)
    assert str(e.value).startswith(f"{image_dir / name}: ") and message in str(e.value)


def test_image_reader_checks_the_decoded_size_against_the_header(image_dir, monkeypatch):
    """The decode guard: an image whose header understates its size is refused after
    decoding (a wrong header cannot slip past the pixel limit)."""
    from aan_core.utils import image_file
    from aan_core.utils.input_errors import UnreadableImageError

    monkeypatch.setattr(image_file, "read_image_size", lambda path: (20, 20))
    with pytest.raises(UnreadableImageError, match="decodes to 960x845, but its header says "
                                                   "20x20"):
        image_file.read_image(image_dir / "good.jpg")


def test_missing_data_points_at_aan_convert_and_check(tmp_path):
    """`mim train mmpose mm_configs/aan_300w.py` without data ended 464 lines of traceback
    with MMPose's "Annotation file ... does not exist"; the datasets of the configs now say
    how to make and check the data."""
    from mmpose.registry import DATASETS

    from aan_components.datasets import MissingDataError

    for config, name in (("aan_300w.py", "300w"), ("aan_aflw.py", "aflw"),
                         ("aan_300vw.py", "300vw"), ("aan_celeba.py", "celeba")):
        ds_cfg = Config.fromfile(str(REPO / "mm_configs" / config)).train_dataloader.dataset
        ds_cfg.data_root = str(tmp_path / name)
        with pytest.raises(MissingDataError) as e:
            DATASETS.build(ds_cfg)
        assert str(e.value).startswith(str(tmp_path / name))
        assert f"aan convert {name} RAW_DIR {tmp_path / name}" in str(e.value)
        assert "aan check CONFIG --images" in str(e.value)


@pytest.mark.parametrize("name", ["png_named.jpg", "sixteen.png", "gray.png"])
def test_unusual_but_valid_images_load_as_8bit_bgr(image_dir, name):
    img = load(image_dir / name)["img"]
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
    good = load(image_dir / "good.jpg")["img"]
    assert img.shape == good.shape
    assert abs(float(img.mean()) - float(good.mean())) < 5


@pytest.mark.slow  # trains with mmengine's Runner
def test_corrupt_training_image_is_reported_and_skipped(fixtures_dir, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(fixtures_dir / "300w", data)
    (data / "indoor_029.png").write_bytes(b"")
    cfg = fixture_train_config(fixtures_dir, tmp_path, data)
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None  # evaluation: see below
    runner = Runner.from_cfg(cfg)
    runner.train()
    log = next((tmp_path / "work").glob("*/*.log")).read_text()
    assert f"skipped unreadable training image {data / 'indoor_029.png'}" in log
    assert (tmp_path / "work" / "iter_2.pth").is_file()
    # evaluation never skips: the same image fails the test with its path
    from aan_components.datasets import UnreadableImageError

    with pytest.raises(UnreadableImageError, match="indoor_029.png: image file is empty"):
        runner.test()
