"""Shared test fixtures: paths to the real face samples, a checkpoint trained on them, small
MMPose data samples, and the Table 5 study tool run in-process."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

# No test may download weights: the hub is off for the whole session (timm fails fast).
os.environ["HF_HUB_OFFLINE"] = "1"

# What the configs' custom_imports do (registration, the mmcv.ops stand-in on mmcv-lite, the
# safe checkpoint loader), before anything imports mmpose.models.
import aan_components.plugin  # noqa: F401

REPO = Path(__file__).resolve().parents[1]
# MMPose's real face samples, kept in the repository (tests/data/README.md); AAN_FIXTURES
# points at another folder of the same layout
FIXTURES = Path(os.environ.get("AAN_FIXTURES",
                               REPO / "tests" / "data" / "mmpose_face_samples"))


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    if not FIXTURES.is_dir():
        pytest.fail(f"real face samples not found at {FIXTURES} (AAN_FIXTURES)")
    return FIXTURES


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory, fixtures_dir) -> str:
    """``mm_configs/aan_300w.py`` trained 2 iterations on the 300W fixture: the model of the
    inference tools' tests (predict, export, attention, their bad input)."""
    from fixture_runs import fixture_overrides
    from mmengine.config import Config
    from mmengine.runner import Runner

    wd = tmp_path_factory.mktemp("ckpt")
    cfg = Config.fromfile(str(REPO / "mm_configs" / "aan_300w.py"))
    cfg.merge_from_dict(fixture_overrides(fixtures_dir / "300w", "test_300w.json", iters=2))
    # Seeded, and every regressor starts at the mean shape: a 2-iteration model's landmarks
    # then lie on the face, so the bounds test_predict.py checks hold on every run (with the
    # paper's random start and no seed, a point fell outside the image in one full-suite run).
    cfg.merge_from_dict({"randomness.seed": 0, "model.head.output_init": "mean_shape"})
    cfg.work_dir = str(wd)
    Runner.from_cfg(cfg).train()
    return str(wd / "iter_2.pth")


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture(autouse=True, scope="session")
def _mmpose_scope() -> None:
    """Build MMPose types by bare name (what a config's default_scope does)."""
    from mmengine.registry import init_default_scope

    init_default_scope("mmpose")


@pytest.fixture
def study(monkeypatch, capsys):
    """``study(*ARGS)`` runs ``python -m bench.aan_study --tiny ARGS`` in this process (no
    interpreter start per call) and returns its stdout. The study sets torch's thread count:
    restored afterwards."""
    from bench import aan_study

    threads = torch.get_num_threads()

    def run(*args: str) -> str:
        monkeypatch.setattr(sys, "argv", ["aan_study.py", "--tiny", *args])
        aan_study.main()
        return capsys.readouterr().out

    yield run
    torch.set_num_threads(threads)


def make_data_samples(batch: int, num_joints: int, input_size=(64, 64), weights=None):
    """PoseDataSamples with random normalised keypoint labels, as RegressionLabel makes."""
    from mmengine.structures import InstanceData
    from mmpose.structures import PoseDataSample

    samples = []
    for i in range(batch):
        labels = InstanceData()
        labels.keypoint_labels = torch.rand(1, num_joints, 2)
        labels.keypoint_weights = (torch.ones(1, num_joints) if weights is None
                                   else weights[i:i + 1].clone())
        sample = PoseDataSample(metainfo=dict(input_size=input_size,
                                              flip_indices=list(range(num_joints))[::-1]))
        sample.gt_instance_labels = labels
        samples.append(sample)
    return samples


def metrics_run(t: Path) -> Path:
    """A tested run's work dir as ``aan tables`` reads it: its metrics file only."""
    run = t / "run"
    run.mkdir()
    (run / "face_alignment_metrics.json").write_text(
        '{"dataset_name": "300w", "norm_mode": "inter_ocular", "metrics": {"NME": 0.05}}')
    return run
