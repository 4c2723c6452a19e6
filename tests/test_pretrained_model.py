"""The model shipped in the package: its files agree with their sha256 list and the results
JSON its model card is generated from, it is accurate on real faces, it is what `aan predict
INPUT`, `LandmarkPredictor.from_pretrained()` and `aan export` use, and a damaged file is
refused in one line."""

from __future__ import annotations

import json
import shutil
from fnmatch import fnmatch
from pathlib import Path

import pytest
from conftest import REPO

import aan_components.pretrained as pretrained
from aan_components.cli import main as aan
from aan_components.inference import LandmarkPredictor
from aan_components.pretrained import (
    DEFAULT_MODEL,
    file_sha256,
    pretrained_model,
)
from aan_core.utils.input_errors import AANInputError
from bench.pretrained_model import sample_faces_nme

RESULTS = REPO / "bench" / "results" / "pretrained_model.json"
MAX_BYTES = 5_000_000
# NME (inter-ocular, %) of the shipped model on the two real 300W faces of tests/data
# (MMPose's 300W samples, indoor_020 and indoor_029: 300W test images, in no training set),
# with their ground-truth boxes. Calibrated from the shipped model: it measured 3.939%
# (bench/results/pretrained_model.json, test.samples; this test prints it); the bound is 1.5x
# that, rounded up to 6.0%, which leaves room for another CPU's arithmetic and for a
# retrained model of the same recipe, and stays far under the synthetic demo model's 15.42%
# on the same faces and boxes (test_the_nme_threshold_fails_the_synthetic_demo_model, which
# prints it).
SHIPPED_NME_MEASURED = 3.939
NME_THRESHOLD = 6.0


def test_shipped_files_agree_with_their_list_and_results():
    model = pretrained_model()
    results = json.loads(RESULTS.read_text())
    manifest = json.loads(pretrained.MANIFEST.read_text())["models"][DEFAULT_MODEL]
    assert file_sha256(model.checkpoint) == manifest["sha256"] == results["sha256"]
    assert model.checkpoint.stat().st_size == results["bytes"] <= MAX_BYTES
    assert results["name"] == DEFAULT_MODEL and (REPO / results["card"]).is_file()
    assert manifest["dtype"] == results["dtype"]
    # the measurement the threshold below was calibrated from is the recorded one
    assert results["test"]["samples"]["nme_io"] == SHIPPED_NME_MEASURED


def test_the_package_data_ships_every_pretrained_file():
    """Every file of aan_components/pretrained goes into the wheel (a ``.pth`` missed by the
    package-data globs would leave `aan predict INPUT` without its model after pip install;
    the slow wheel test in test_packaging.py runs it)."""
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    globs = tomllib.loads((REPO / "pyproject.toml").read_text())[
        "tool"]["setuptools"]["package-data"]["aan_components"]
    folder = REPO / "aan_components" / "pretrained"
    files = [p.relative_to(folder.parent).as_posix() for p in folder.iterdir()
             if p.is_file() and p.suffix in (".py", ".pth", ".json")]
    assert len(files) >= 3
    assert all(any(fnmatch(f, g) for g in globs) for f in files), (files, globs)


@pytest.fixture(scope="module")
def shipped() -> LandmarkPredictor:
    return LandmarkPredictor.from_pretrained(detector=None)


def test_shipped_model_is_accurate_on_real_faces(shipped, fixtures_dir):
    nme = sample_faces_nme(shipped, fixtures_dir)
    print(f"shipped model on the 300W samples: NME(IO) {nme:.3f}%")
    assert nme <= NME_THRESHOLD, nme


@pytest.mark.slow  # trains the demo's model (400 iterations on synthetic faces)
def test_the_nme_threshold_fails_the_synthetic_demo_model(tmp_path, fixtures_dir):
    """The threshold above tells a model trained on real faces from the synthetic demo's:
    `aan demo`'s config and recipe for 400 iterations (its own learning test's length, at
    which it beats the synthetic mean shape clearly), seed 0, scores above it on the same
    faces and boxes."""
    from bench.common import train_checkpoint

    def edit(cfg):
        cfg.train_dataloader.num_workers = 0
        cfg.train_dataloader.persistent_workers = False
        cfg.train_dataloader.dataset.num_samples = 12800
        # all 400 iterations, however busy the machine: the demo's 7-minute cap stopped a
        # run at iteration 316 under load, and its iter_400.pth was never written
        cfg.custom_hooks = [h for h in cfg.custom_hooks if h["type"] != "TimeBudgetHook"]

    ckpt = train_checkpoint(REPO / "mm_configs" / "aan_synthetic.py", tmp_path, 400, edit)
    demo = LandmarkPredictor(str(REPO / "mm_configs" / "aan_synthetic.py"), ckpt)
    nme = sample_faces_nme(demo, fixtures_dir)
    print(f"synthetic demo model on the 300W samples: NME(IO) {nme:.3f}%")
    assert nme > NME_THRESHOLD, nme


def test_from_pretrained_is_the_shipped_files_and_finds_faces_with_calibrated_mtcnn():
    p = LandmarkPredictor.from_pretrained()
    model = pretrained_model()
    assert (p.checkpoint, p.num_keypoints) == (str(model.checkpoint), 68)
    finder = p.face_finder
    assert finder.detector.name == "mtcnn" and finder.convention == "landmark_extent"
    assert finder.calibration is not None  # MTCNN's fit to 300W's training boxes


def _damaged_copy(tmp_path: Path) -> Path:
    """The package's model files copied to ``tmp_path``, one byte of the weights changed."""
    folder = tmp_path / "pretrained"
    shutil.copytree(pretrained.MANIFEST.parent, folder,
                    ignore=shutil.ignore_patterns("__pycache__", "__init__.py"))
    ckpt = folder / f"{DEFAULT_MODEL}.pth"
    data = bytearray(ckpt.read_bytes())
    data[len(data) // 2] ^= 0xFF
    ckpt.write_bytes(bytes(data))
    return folder / "models.json"


def test_a_damaged_checkpoint_is_refused_in_one_line(tmp_path, monkeypatch, capsys):
    manifest = _damaged_copy(tmp_path)
    with pytest.raises(AANInputError, match=rf"{DEFAULT_MODEL}\.pth: sha256 [0-9a-f]{{64}} is "
                                            r"not the shipped"):
        pretrained_model(manifest=manifest)
    monkeypatch.setattr(pretrained, "MANIFEST", manifest)
    with pytest.raises(SystemExit) as e:
        aan(["predict", str(tmp_path), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert e.value.code == 2 and len(err.splitlines()) == 1
    assert err.startswith("aan predict: error: ") and f"{manifest.parent}" in err
    assert not (tmp_path / "out").exists()


def test_predict_without_model_arguments_uses_the_shipped_model(fixtures_dir, tmp_path):
    image = fixtures_dir / "300w" / "indoor_029.png"
    aan(["predict", str(image), "--out", str(tmp_path / "out")])
    result = json.loads((tmp_path / "out" / "landmarks.json").read_text())
    model = pretrained_model()
    assert (result["config"], result["checkpoint"]) == (str(model.config),
                                                         str(model.checkpoint))
    (face,) = result["images"][0]["faces"]
    assert face["box_source"].startswith("mtcnn") and 0.9 < face["detector_score"] <= 1
    assert len(face["keypoints"]) == 68
    assert (tmp_path / "out" / "vis" / "indoor_029.png").is_file()


def test_predict_with_two_paths_says_what_it_takes(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        aan(["predict", "a.py", str(tmp_path), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert e.value.code == 2 and err == (
        f"aan predict: error: give INPUT (the shipped model) or CONFIG CHECKPOINT INPUT, not "
        f"2 paths: a.py {tmp_path}")


def test_export_without_a_config_exports_the_shipped_model(tmp_path, capsys):
    out = tmp_path / "shipped.onnx"
    aan(["export", "--out", str(out)])
    printed = capsys.readouterr().out
    assert out.stat().st_size > 1_000_000 and "max |difference|" in printed


def test_inference_config_resolves_the_heads_auto_sizes():
    """A run of today's recipe saves ``in_channels='auto'`` and ``feature_sizes='auto'``; the
    shipped test-time head reads the last map with its real size. Wrong input caught: the
    'auto' strings sliced as if they were the sizes (a ValueError on 'o')."""
    from mmengine.config import Config

    from bench.pretrained_model import inference_config

    cfg = Config.fromfile(str(REPO / "mm_configs" / "aan_300w_cpu_aug.py"))
    assert cfg.model.head.in_channels == "auto"
    head = inference_config(cfg).model.head
    assert head.in_channels == 512 and [list(s) for s in head.feature_sizes] == [[2, 2]]
    assert "branch_input" not in head and head.loss.type != "IntermediateSupervisionLoss"


def test_inference_config_ships_no_path_of_the_machine_that_trained():
    """The run's data roots (here as a study passes them: absolute, on its machine) go back
    to the config's own ``data_root``. Wrong input caught: the shipped config named
    /work/main/data/300w/, where the run read its faces."""
    from bench.equal_time import arm_config
    from bench.pretrained_model import DATA_ROOT_KEYS, inference_config

    cfg = arm_config("mm_configs/aan_300w_cpu_fast.py",
                     [f"{k}=/machine/data/300w/" for k in DATA_ROOT_KEYS
                      if not k.startswith("train_dataloader.dataset.data_root")])
    assert "/machine/" in cfg.pretty_text
    shipped = inference_config(cfg)
    assert "/machine/" not in shipped.pretty_text
    assert shipped.test_dataloader.dataset.data_root == cfg.data_root == "data/300w/"


def test_the_train_command_is_checked_against_the_run_config(tmp_path):
    """``check_command``: the run's own command passes, and so does a shorter one that
    resolves to the same values; where the run ran and how often it saved (work dir, data
    root, checkpoint interval) are not checked. Wrong input caught: a command at the config's
    own length (6,000 iterations) for a run of 12,150, refused naming the key."""
    from mmengine.config import Config

    from bench.equal_time import arm_config
    from bench.pretrained_model import check_command

    config = "mm_configs/aan_300w_cpu_batchaug.py"
    trained = ["randomness.seed=1", "model.head.output_init=mean_shape",
               "train_cfg.max_iters=12150", "max_iters=12150", "train_cfg.val_interval=12150",
               "param_scheduler.0.end=12150", "param_scheduler.0.milestones=[7290,10328]"]
    where = ["default_hooks.checkpoint.interval=500",
             "train_dataloader.dataset.dataset.data_root=/elsewhere/300w/",
             "test_dataloader.dataset.data_root=/elsewhere/300w/"]
    arm_config(config, [*trained, *where]).dump(tmp_path / "aan_300w_cpu_batchaug.py")
    run = Config.fromfile(str(tmp_path / "aan_300w_cpu_batchaug.py"))  # as a work dir has it
    check_command(f"mim train mmpose {config} --work-dir w --cfg-options "
                  + " ".join([*trained, *where]), run)
    check_command(f"mim train mmpose {config} --cfg-options " + " ".join(trained), run)
    with pytest.raises(ValueError, match="max_iters: 12150 != 6000"):
        check_command(f"mim train mmpose {config} --cfg-options randomness.seed=1 "
                      "model.head.output_init=mean_shape", run)
