"""aan predict / attention / export on the real fixtures, with a checkpoint trained 2
iterations on the 300W fixture (and loaded safely)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import REPO
from fixture_runs import fixture_overrides
from mmengine.config import Config
from mmengine.runner import Runner

from aan_components.cli import main as aan
from aan_core.temporal_smoothing import OneEuroFilter

CONFIG = str(REPO / "mm_configs" / "aan_300w.py")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, fixtures_dir) -> str:
    wd = tmp_path_factory.mktemp("ckpt")
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict(fixture_overrides(fixtures_dir / "300w", "test_300w.json", iters=2))
    cfg.work_dir = str(wd)
    Runner.from_cfg(cfg).train()
    return str(wd / "iter_2.pth")


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
        w, h = sizes[record["image"]]
        assert pts.shape == (68, 2)
        assert (pts >= 0).all() and (pts[:, 0] < w).all() and (pts[:, 1] < h).all()
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
        aan(["predict", CONFIG, checkpoint, str(video), "--out", str(out), *extra])
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


@pytest.mark.parametrize("name, text, message", [
    ("b.csv", "image,x1,y1,x2,y2\na.jpg,1,2,3\n", "b.csv: line 2: expected 5 fields"),
    ("b.csv", "img,x1,y1,x2,y2\n", "b.csv: line 1: expected the header"),
    ("b.csv", "image,x1,y1,x2,y2\na.jpg,1,2,0,4\n", "b.csv: line 2: empty box"),
    ("b.json", '{"a.jpg": [[1, 2, "x", 4]]}', "b.json: key 'a.jpg': box must be 4"),
    ("b.json", '{"a.jpg": [1, 2, 3]', "b.json: line 1: invalid JSON"),
])
def test_bad_box_files_are_named(checkpoint, fixtures_dir, tmp_path, capsys, name, text,
                                 message):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(SystemExit) as e:
        aan(["predict", CONFIG, checkpoint, str(fixtures_dir / "300w"), "--boxes", str(path),
             "--out", str(tmp_path / "out")])
    assert e.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out" / "landmarks.json").exists()


def test_attention_figure(checkpoint, fixtures_dir, tmp_path, capsys):
    out = tmp_path / "fig4.png"
    aan(["attention", CONFIG, checkpoint, str(fixtures_dir / "300w"), str(fixtures_dir / "aflw"),
         "--out", str(out)])
    image = cv2.imread(str(out))
    assert image is not None and image.shape[1] > 4 * 256  # four faces side by side
    with pytest.raises(SystemExit):
        aan(["attention", str(REPO / "mm_configs" / "resnet50-regression_300w.py"), checkpoint,
             str(fixtures_dir / "300w"), "--out", str(tmp_path / "x.png")])
    assert "no attention maps" in capsys.readouterr().err


def test_onnx_matches_pytorch_on_real_crops(checkpoint, fixtures_dir, tmp_path):
    """ONNX (opset 17, dynamic batch) vs PyTorch on the real 300W and AFLW fixture crops:
    max |difference| < 1e-3 px (measured ~1e-4 at 256 px)."""
    from mmpose.apis import init_model

    from aan_components.inference import LandmarkPredictor
    from aan_components.inference.media_sources import iter_images, list_images
    from aan_components.tools.export import max_abs_difference

    onnx_path = tmp_path / "aan.onnx"
    aan(["export", CONFIG, checkpoint, "--out", str(onnx_path)])
    predictor = LandmarkPredictor(CONFIG, checkpoint)
    predictor.keep_crops = True
    crops = []
    for folder in ("300w", "aflw"):
        root = fixtures_dir / folder
        for r in predictor.predict(iter_images(list_images(root), root, None)):
            crops.extend(r.crops)
    images = np.stack(crops).transpose(0, 3, 1, 2).astype(np.float32)  # (4, 3, 256, 256)
    model = init_model(CONFIG, checkpoint, device="cpu")
    assert max_abs_difference(model, onnx_path, images) < 1e-3
    assert max_abs_difference(model, onnx_path, images[:1]) < 1e-3  # another batch size
    import onnx

    graph = onnx.load(str(onnx_path))
    assert graph.opset_import[0].version == 17
    assert graph.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    # the intermediate branches are not exported: two linear layers (embedding + output),
    # where the training graph has 2 + 4 (a branch per stage); one output
    ops = [n.op_type for n in graph.graph.node]
    assert ops.count("Gemm") + ops.count("MatMul") == 2 and ops.count("Cos") == 1
    assert [o.name for o in graph.graph.output] == ["keypoints"]


def test_unreadable_image_in_a_folder_is_skipped_and_listed(checkpoint, fixtures_dir, tmp_path,
                                                            capsys):
    import shutil

    folder = tmp_path / "imgs"
    shutil.copytree(fixtures_dir / "300w", folder)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    (folder / "empty.png").write_bytes(b"")
    out = tmp_path / "out"
    aan(["predict", CONFIG, checkpoint, str(folder), "--out", str(out), "--no-draw"])
    result = json.loads((out / "landmarks.json").read_text())
    assert sorted(r["image"] for r in result["images"]) == ["indoor_020.png", "indoor_029.png"]
    assert result["skipped"] == [dict(image="broken.jpg", reason="not a readable image"),
                                 dict(image="empty.png", reason="empty file")]
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


def test_attention_maps_belong_to_their_own_face(checkpoint, fixtures_dir):
    """Two faces of one image: each keeps the maps of its own forward, whatever the batching
    (aan attention used to read the backbone's maps after the image's last face had run, so
    every face of an image got the last face's maps)."""
    from aan_components.inference import LandmarkPredictor

    image = cv2.imread(str(fixtures_dir / "300w" / "indoor_029.png"))
    boxes = np.array([[100, 100, 500, 500], [300, 350, 700, 800]], np.float32)
    per_batching = []
    for batch_size in (1, 2):
        p = LandmarkPredictor(CONFIG, checkpoint, batch_size=batch_size)
        p.keep_attention = True
        (result,) = p.predict([("a", image, boxes)])
        assert len(result.attention) == 2 and len(result.attention[0]) == 4
        per_batching.append(result.attention)
    for face in (0, 1):
        for a, b in zip(per_batching[0][face], per_batching[1][face], strict=True):
            np.testing.assert_allclose(a, b, atol=1e-5)
    assert not np.allclose(per_batching[0][0][0], per_batching[0][1][0])
