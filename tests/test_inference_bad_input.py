"""Bad input to ``aan predict`` / ``export`` / ``attention`` (checkpoints, images, box files,
options, configs): exit status 2 and one line naming the file and the cause; and the
checkpoints that load on purpose (``--allow-partial``, weights without ``meta``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO
from inference_inputs import bad_image, box_file, still_video

from aan_components.cli import main as aan

CONFIG = str(REPO / "mm_configs" / "aan_300w.py")


def _edit_checkpoint(checkpoint: str, path: Path, edit) -> str:
    import torch

    ckpt = torch.load(checkpoint, weights_only=False)
    edit(ckpt)
    torch.save(ckpt, path)
    return str(path)


def _pickle_payload(path: Path) -> None:
    import os

    import torch

    class Payload:
        def __reduce__(self):
            return os.system, ("true",)

    torch.save({"state_dict": {}, "x": Payload()}, path)


def _file(path: Path, data: bytes | str) -> str:
    if isinstance(data, str):
        path.write_text(data)
    else:
        path.write_bytes(data)
    return str(path)


def _two_folders(tmp_path: Path, fixtures_dir: Path) -> Path:
    """``both/a`` and ``both/b``, each with the two 300W fixture images (same file names),
    and ``both/c/face.png``."""
    import shutil

    for sub in ("a", "b"):
        shutil.copytree(fixtures_dir / "300w", tmp_path / "both" / sub,
                        ignore=shutil.ignore_patterns("*.json"))
    (tmp_path / "both" / "c").mkdir()
    shutil.copyfile(fixtures_dir / "300w" / "indoor_029.png", tmp_path / "both" / "c" / "face.png")
    return tmp_path / "both"


def _copy_folder(tmp_path: Path, fixtures_dir: Path) -> Path:
    import shutil

    shutil.copytree(fixtures_dir / "300w", tmp_path / "imgs",
                    ignore=shutil.ignore_patterns("*.json"))
    return tmp_path / "imgs"


def _overflowing(ckpt: dict) -> None:
    """Finite weights whose sums overflow: the output layer at +-3e38."""
    import torch

    w = ckpt["state_dict"]["head.regressor.fc.weight"]
    w.copy_(torch.sign(torch.randn_like(w)) * 3e38)


def _aflw_meta(ckpt: dict) -> None:
    """The 19-point AFLW meta on the 68-point weights."""
    from mmpose.datasets.datasets.utils import parse_pose_metainfo

    ckpt["meta"]["dataset_meta"] = parse_pose_metainfo(
        dict(from_file="configs/_base_/datasets/aflw.py"))


# (case id, argv after "aan" given (checkpoint, fixtures_dir, tmp_path, out), message).
# Each input is refused with exit status 2 and one line, never a silent wrong result or a
# traceback.
BAD_INPUTS = [
    # a checkpoint of another config: ran on random layers (NME 463%), exit 0
    ("ckpt-other-config", lambda c, f, t, o: ["predict", str(REPO / "mm_configs" /
                                                              "aan_synthetic.py"), c,
                                              str(f / "300w"), "--out", o],
     "does not fit the model of config"),
    ("ckpt-missing-key", lambda c, f, t, o: [
        "predict", CONFIG, _edit_checkpoint(c, t / "m.pth", lambda k: k["state_dict"].pop(
            "head.regressor.fc.weight")), str(f / "300w"), "--out", o],
     "1 missing from the checkpoint: head.regressor.fc.weight"),
    ("ckpt-unexpected-key", lambda c, f, t, o: [
        "predict", CONFIG, _edit_checkpoint(c, t / "u.pth", lambda k: k["state_dict"].update(
            extra=k["state_dict"]["head.regressor.fc.weight"])), str(f / "300w"), "--out", o],
     "1 unexpected: extra"),
    ("ckpt-shape", lambda c, f, t, o: [
        "predict", CONFIG, _edit_checkpoint(c, t / "s.pth", lambda k: k["state_dict"].update({
            "head.regressor.fc.weight": k["state_dict"]["head.regressor.fc.weight"][:10]})),
        str(f / "300w"), "--out", o],
     "1 of another shape: head.regressor.fc.weight"),
    # checkpoint files: bare EOFError; "outside the allowlist" + torch's weights_only advice
    ("ckpt-empty", lambda c, f, t, o: [
        "predict", CONFIG, _file(t / "e.pth", b""),
        str(f / "300w"), "--out", o], "e.pth: the file is empty (0 bytes)"),
    ("ckpt-random-bytes", lambda c, f, t, o: [
        "predict", CONFIG, _file(t / "r.pth", np.random.default_rng(0).bytes(5000)),
        str(f / "300w"), "--out", o],
     "r.pth: not a PyTorch checkpoint"),
    ("ckpt-truncated", lambda c, f, t, o: [
        "predict", CONFIG, _file(t / "t.pth", Path(c).read_bytes()[:100000]),
        str(f / "300w"), "--out", o],
     "t.pth: the file is truncated"),
    ("ckpt-payload", lambda c, f, t, o: [
        "predict", CONFIG, str(_pickle_payload(t / "p.pth") or t / "p.pth"), str(f / "300w"),
        "--out", o], "p.pth: it contains posix.system"),
    ("ckpt-missing-file", lambda c, f, t, o: ["export", CONFIG, str(t / "nope.pth"), "--out",
                                              str(t / "x.onnx")],
     "nope.pth: file not found"),
    # images aan predict took although the training loader refuses them
    ("image-truncated", lambda c, f, t, o: ["predict", CONFIG, c,
                                            str(bad_image(t, f, "truncated")), "--out", o],
     "truncated.jpg: the image could not be decoded"),
    ("image-1x1", lambda c, f, t, o: ["predict", CONFIG, c, str(bad_image(t, f, "tiny")), "--out",
                                      o], "tiny.png: image is 1x1, smaller than the minimum"),
    ("image-400Mpx", lambda c, f, t, o: ["predict", CONFIG, c, str(bad_image(t, f, "huge")),
                                         "--out", o],
     "huge.png: image is 20000x20000 (400 Mpx), over the limit of 150 Mpx"),
    # boxes
    ("box-outside", lambda c, f, t, o: [
        "predict", CONFIG, c, str(f / "300w"), "--out", o, "--boxes",
        box_file(t, '{"indoor_029.png": [[5000, 5000, 6000, 6000]]}')],
     "b.json: key 'indoor_029.png' (image indoor_029.png): box [5000, 5000, 6000, 6000] lies "
     "entirely outside the image (960x845 px)"),
    ("box-key-typo", lambda c, f, t, o: [
        "predict", CONFIG, c, str(f / "300w"), "--out", o, "--boxes",
        box_file(t, '{"indoor_29.png": [[10, 10, 300, 300]]}')],
     "b.json: key 'indoor_29.png': 'indoor_29.png' is not an input image"),
    ("box-key-typo-csv", lambda c, f, t, o: [
        "predict", CONFIG, c, str(f / "300w"), "--out", o, "--boxes",
        box_file(t, "image,x1,y1,x2,y2\nindoor_029.png,1,2,300,400\nindoor_29.png,1,2,30,40\n",
               "b.csv")], "b.csv: line 3: 'indoor_29.png' is not an input image"),
    ("box-1e30", lambda c, f, t, o: [
        "predict", CONFIG, c, str(f / "300w"), "--out", o, "--boxes",
        box_file(t, '{"indoor_029.png": [[0, 0, 1e30, 1e30]]}')],
     "box [0, 0, 1e+30, 1e+30] is more than 4 times the image's size"),
    ("box-1e30-outside", lambda c, f, t, o: [
        "predict", CONFIG, c, str(f / "300w"), "--out", o, "--boxes",
        box_file(t, '{"indoor_029.png": [[1e30, 1e30, 2e30, 2e30]]}')], "lies entirely outside"),
    ("box-video-not-a-frame", lambda c, f, t, o: [
        "predict", CONFIG, c, str(still_video(t / "v.avi", f)), "--out", o, "--boxes",
        box_file(t, '{"9": [[10, 10, 300, 300]]}')], "'9' is not a frame of"),
    # a video whose third frame's box is outside: fails after output was started
    ("box-video-frame-3", lambda c, f, t, o: [
        "predict", CONFIG, c, str(still_video(t / "v.avi", f)), "--out", o, "--boxes",
        box_file(t, '{"1": [[10, 10, 300, 300]], "3": [[5000, 5000, 6000, 6000]]}')],
     "key '3' (image frame 3): box [5000, 5000, 6000, 6000] lies entirely outside"),
    # options and configs that gave tracebacks
    ("batch-size-0", lambda c, f, t, o: ["predict", CONFIG, c, str(f / "300w"), "--out", o,
                                         "--batch-size", "0"],
     "argument --batch-size: must be an integer >= 1, got 0"),
    ("device-cuda", lambda c, f, t, o: ["predict", CONFIG, c, str(f / "300w"), "--out", o,
                                        "--device", "cuda:7"],
     "device 'cuda:7': "),
    ("config-text-file", lambda c, f, t, o: [
        "predict", _file(t / "notes.py", "These are my notes.\n"),
        c, str(f / "300w"), "--out", o], "notes.py: line 1: syntax error"),
    ("config-not-mmpose", lambda c, f, t, o: [
        "predict", _file(t / "plain.py", "x = 1\n"), c, str(f / "300w"), "--out", o],
     "plain.py: field model: missing"),
    ("out-not-writable", lambda c, f, t, o: [
        "export", CONFIG, c, "--out", str(Path(_file(t / "a_file", "")) / "x.onnx")],
     "a_file/x.onnx: cannot write here"),
    ("boxes-and-whole-image", lambda c, f, t, o: [
        "predict", CONFIG, c, str(f / "300w"), "--out", o, "--whole-image", "--boxes",
        box_file(t, '{"indoor_029.png": [[10, 10, 300, 300]]}')],
     "--boxes and --whole-image exclude each other"),
    # box files mean exactly one thing
    ("box-json-duplicate-key", lambda c, f, t, o: [
        "predict", CONFIG, c, str(f / "300w"), "--out", o, "--boxes",
        box_file(t, '{"indoor_029.png": [[10, 10, 300, 300]], '
                  '"indoor_029.png": [[20, 20, 400, 400]]}')],
     "b.json: key 'indoor_029.png' appears twice in one object"),
    ("box-json-true", lambda c, f, t, o: [
        "predict", CONFIG, c, str(f / "300w"), "--out", o, "--boxes",
        box_file(t, '{"indoor_029.png": [[true, 10, 300, 300]]}')],
     "b.json: key 'indoor_029.png': box must be 4 numbers x1 y1 x2 y2 (JSON numbers"),
    ("box-json-string", lambda c, f, t, o: [
        "predict", CONFIG, c, str(f / "300w"), "--out", o, "--boxes",
        box_file(t, '{"indoor_029.png": [["10", 10, 300, 300]]}')],
     "b.json: key 'indoor_029.png': box must be 4 numbers"),
    ("box-tiny", lambda c, f, t, o: [
        "predict", CONFIG, c, str(f / "300w"), "--out", o, "--boxes",
        box_file(t, '{"indoor_029.png": [[100, 100, 100.001, 100.001]]}')],
     "px, smaller than the minimum 8 px a side"),
    ("box-key-names-two-images", lambda c, f, t, o: [
        "predict", CONFIG, c, str(_two_folders(t, f)), "--out", o, "--boxes",
        box_file(t, '{"indoor_029.png": [[10, 10, 300, 300]]}')],
     "b.json: key 'indoor_029.png': 'indoor_029.png' names 2 input images (a/indoor_029.png, "
     "b/indoor_029.png): use the path relative to the input folder"),
    ("box-two-keys-one-image", lambda c, f, t, o: [
        "predict", CONFIG, c, str(_two_folders(t, f)), "--out", o, "--boxes",
        box_file(t, '{"a/indoor_020.png": [[10, 10, 300, 300]], '
                  '"b/indoor_020.png": [[10, 10, 300, 300]], '
                  '"face.png": [[20, 20, 400, 400]], "c/face.png": [[10, 10, 300, 300]]}')],
     "keys 'face.png' and 'c/face.png' both name the image c/face.png: give its boxes under "
     "one key"),
    ("box-video-two-keys-one-frame", lambda c, f, t, o: [
        "predict", CONFIG, c, str(still_video(t / "v.avi", f)), "--out", o, "--boxes",
        box_file(t, '{"2": [[10, 10, 300, 300]], "000002": [[10, 10, 300, 300]]}')],
     "keys '2' and '000002' both name frame 2 of"),
    # a checkpoint agrees with itself; never a non-finite number written
    ("ckpt-nan-weights", lambda c, f, t, o: [
        "predict", CONFIG, _edit_checkpoint(c, t / "nan.pth", lambda k: k["state_dict"][
            "head.regressor.fc.weight"].fill_(float("nan"))), str(f / "300w"), "--out", o,
        "--whole-image"],
     "nan.pth: 1 tensors hold non-finite values (NaN or inf), e.g. head.regressor.fc.weight"),
    ("ckpt-overflowing-weights", lambda c, f, t, o: [
        "predict", CONFIG, _edit_checkpoint(c, t / "huge.pth", _overflowing), str(f / "300w"),
        "--out", o, "--whole-image"],
     "huge.pth: its landmarks for indoor_020.png are not finite (NaN or inf): nothing written"),
    ("ckpt-meta-of-19-points", lambda c, f, t, o: [
        "predict", CONFIG, _edit_checkpoint(c, t / "aflw_meta.pth", _aflw_meta),
        str(f / "300w"), "--out", o, "--whole-image"],
     "aflw_meta.pth: field meta.dataset_meta.num_keypoints: 19 (aflw), but the model (of "),
    # user errors: one line, no traceback
    ("config-pipeline-typo", lambda c, f, t, o: [
        "predict", _file(t / "typo.py", f"_base_ = ['{CONFIG}']\ntest_dataloader = dict("
                         f"dataset=dict(pipeline=[dict(type='LoadFaceImage', on_eror='skip')]"
                         f"))\n"), c, str(f / "300w"), "--out", o, "--whole-image"],
     "typo.py: field test_dataloader.dataset.pipeline[0].on_eror: unknown field of "
     "LoadFaceImage (did you mean 'on_error'?)"),
    ("device-meta", lambda c, f, t, o: ["predict", CONFIG, c, str(f / "300w"), "--out", o,
                                        "--device", "meta"],
     "device 'meta': not a device to run a model on"),
    # outputs never become inputs
    ("out-inside-input", lambda c, f, t, o: [
        "predict", CONFIG, c, str(_copy_folder(t, f)), "--out", str(t / "imgs" / "out"),
        "--whole-image"], "lies inside the input folder"),
    ("out-is-input", lambda c, f, t, o: [
        "predict", CONFIG, c, str(_copy_folder(t, f)), "--out", str(t / "imgs" / "."),
        "--whole-image"], "lies inside the input folder"),
    ("attention-out-inside-input", lambda c, f, t, o: [
        "attention", CONFIG, c, str(_copy_folder(t, f)), "--out", str(t / "imgs" / "o.png")],
     "o.png: lies inside the input folder"),
    ("attention-box-key-typo", lambda c, f, t, o: [
        "attention", CONFIG, c, str(f / "300w"), "--out", str(t / "o.png"), "--boxes",
        box_file(t, '{"indoor_29.png": [[10, 10, 300, 300]]}')], "is not an input image"),
]
@pytest.mark.parametrize("make_argv, message", [c[1:] for c in BAD_INPUTS],
                         ids=[c[0] for c in BAD_INPUTS])
def test_bad_inputs_exit_2_with_one_line(checkpoint, fixtures_dir, tmp_path, capsys,
                                         make_argv, message):
    """Each bad input: exit status 2, one error line naming the file and the cause, no
    traceback, never torch's advice to load unsafely, and no output folder left behind."""
    out = tmp_path / "out"
    argv = make_argv(checkpoint, fixtures_dir, tmp_path, str(out))
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        aan(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2
    assert message in err
    errors = [line for line in err.splitlines() if ": error: " in line]
    assert len(errors) == 1 and message in errors[0]
    assert "Traceback" not in err and "weights_only=False" not in err
    assert not out.exists()


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


def test_allow_partial_loads_what_fits_and_says_so(checkpoint, fixtures_dir, tmp_path, capsys):
    """--allow-partial runs a mismatched checkpoint with one summary line (the opt-out of
    strict loading; without it, the same input exits 2: test_bad_inputs...)."""
    import torch

    bad = _edit_checkpoint(checkpoint, tmp_path / "m.pth",
                           lambda k: k["state_dict"].pop("head.regressor.fc.weight"))
    out = tmp_path / "out"
    aan(["predict", CONFIG, bad, str(fixtures_dir / "300w"), "--out", str(out), "--no-draw",
         "--allow-partial", "--whole-image"])
    err = capsys.readouterr().err
    summary = [line for line in err.splitlines() if "--allow-partial" in line]
    assert len(summary) == 1
    n = len(torch.load(checkpoint, weights_only=False)["state_dict"])
    assert f"loaded {n - 1} of {n} tensors" in summary[0]
    assert "head.regressor.fc.weight" in summary[0]
    assert (out / "landmarks.json").is_file()


def test_checkpoint_without_meta_takes_it_from_the_config(checkpoint, fixtures_dir, tmp_path,
                                                          capsys):
    """A weights-only checkpoint (no ``meta``): the dataset meta comes from the config
    (mmpose's init_model failed with a bare AssertionError for the synthetic config), and
    a config that states none fails with one sentence."""
    import torch

    state = torch.load(checkpoint, weights_only=False)["state_dict"]
    torch.save(state, tmp_path / "weights.pth")
    out = tmp_path / "out"
    aan(["predict", CONFIG, str(tmp_path / "weights.pth"), str(fixtures_dir / "300w"),
         "--out", str(out), "--no-draw", "--whole-image"])
    assert json.loads((out / "landmarks.json").read_text())["num_keypoints"] == 68
    # the synthetic config's dataset states its meta only through num_points
    from aan_components.inference import load_pose_model

    model = load_pose_model(str(REPO / "mm_configs" / "aan_synthetic.py"))
    assert model.dataset_meta["num_keypoints"] == 68
    bare = tmp_path / "bare.py"
    bare.write_text(f"_base_ = ['{CONFIG}']\ntrain_dataloader = None\nval_dataloader = None\n"
                    f"test_dataloader = None\n")
    with pytest.raises(SystemExit):
        aan(["predict", str(bare), str(tmp_path / "weights.pth"), str(fixtures_dir / "300w"),
             "--out", str(tmp_path / "o2")])
    err = capsys.readouterr().err
    assert "bare.py: none of its datasets states its keypoint meta" in err
    assert "Traceback" not in err
