"""Shared test fixtures: paths to the real face samples, small MMPose data samples, and the
Table 5 study tool run in-process."""

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
