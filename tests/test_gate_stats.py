"""bench.gate_stats: each statistic against a map planted with known values, the forms
without a map, and the tool end to end on a checkpoint trained 2 iterations on the 300W
fixture (its results, table and figure)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import REPO
from fixture_runs import fixture_overrides
from mmengine.config import Config
from mmengine.runner import Runner
from mmpose.registry import MODELS
from torch import nn

from bench import gate_stats
from bench.common import results_text

CONFIG = REPO / "mm_configs" / "aan_300w.py"  # 256 px: stage maps 64, 32, 16, 8 (stride 4-32)
SIZE = 256


class PlantedBN(nn.Module):
    """Stands for a gate's BatchNorm: gives a known pre-ReLU map ``z`` for each face."""

    def __init__(self, planted: torch.Tensor) -> None:
        super().__init__()
        self.planted = planted  # (faces, h, w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.planted[:, None].to(x.dtype).clone()


def planted_z(faces: int, h: int, landmark_cells: list[tuple[int, int]]) -> torch.Tensor:
    """Face ``b``: a ramp over the columns, from ``-(b + 1)`` to ``2 (b + 1)`` (so a different
    dead fraction and contrast on each face), its first row exactly 0 (a dead ReLU), with +3
    at the cells of the landmarks."""
    z = torch.stack([torch.linspace(-(b + 1), 2 * (b + 1), h).expand(h, h) for b in range(faces)])
    z = z.clone()
    z[:, 0] = 0.0
    for y, x in landmark_cells:
        z[:, y, x] = 3.0
    return z.clone()


def expected(z: torch.Tensor, near: np.ndarray) -> dict:
    """The statistics from their definitions, face by face, in numpy."""
    zn = z.numpy().astype(np.float64)
    m = 1 / (1 + np.exp(-np.maximum(zn, 0)))
    per = [dict(gain=(1 + mi).mean(), mean_m=mi.mean(), dead=(zi <= 0).mean(),
                contrast_m=np.percentile(mi, 95) / np.percentile(mi, 5),
                contrast_gain=np.percentile(1 + mi, 95) / np.percentile(1 + mi, 5),
                near_far=mi[near].mean() / mi[~near].mean()) for zi, mi in zip(zn, m, strict=True)]
    return {k: float(np.mean([p[k] for p in per])) for k in per[0]}


def build(attention: str = "aan", config=CONFIG) -> nn.Module:
    from mmengine.registry import init_default_scope

    import aan_components.plugin  # noqa: F401

    init_default_scope("mmpose")
    cfg = Config.fromfile(str(config))
    cfg.model.backbone.attention = attention
    torch.manual_seed(0)
    return MODELS.build(cfg.model).eval()


def test_near_mask_takes_each_cells_footprint():
    # 4 x 4 map of 8 px cells; a point at (12, 4): in cell (0, 1); cell (0, 0) ends at x = 8,
    # 4 px away; (1, 1) begins at y = 8, 4 px away; (1, 0) and (1, 2) are 5.7 px away
    mask = gate_stats.near_mask((4, 4), (8.0, 8.0), np.array([[12.0, 4.0]]), 4.0)
    assert mask.astype(int).tolist() == [[1, 1, 1, 0], [0, 1, 0, 0], [0, 0, 0, 0],
                                         [0, 0, 0, 0]]
    mask = gate_stats.near_mask((4, 4), (8.0, 8.0), np.array([[12.0, 4.0]]), 6.0)
    assert mask[1].astype(int).tolist() == [1, 1, 1, 0]


def test_planted_maps_give_their_known_statistics():
    """Every statistic of every stage, for maps planted with known values: catches a wrong
    definition (dead as < 0, contrast of the gain for M's or pooled over faces, near/far the
    other way round or over the wrong cells, the gain of another form)."""
    model = build("aan")
    faces = 3
    keypoints = np.array([[10.0, 10.0], [202.0, 134.0]])  # input px: >= 2 px from cell borders
    planted = {}
    for stage, gate in enumerate(gate_stats.stage_gates(model)):
        h = SIZE // 4 // 2**stage
        stride = SIZE / h
        cells = [(int(y // stride), int(x // stride)) for x, y in keypoints]
        planted[stage] = (planted_z(faces, h, cells), cells)
        gate.attention.bn = PlantedBN(planted[stage][0])
    inputs = torch.randn(faces, 3, SIZE, SIZE)
    rows = gate_stats.gate_statistics(model, [(inputs, [keypoints] * faces)], radius=1.0)
    assert [r["stage"] for r in rows] == [1, 2, 3, 4]
    for row, (stage, (z, cells)) in zip(rows, planted.items(), strict=True):
        h = z.shape[-1]
        near = np.zeros((h, h), bool)
        for y, x in cells:  # radius 1 px < half a cell: only the cell holding the landmark
            near[y, x] = True
        want = expected(z, near)
        assert row["size"] == [h, h] and row["stride"] == SIZE / h and row["faces"] == faces
        for key, value in want.items():
            assert row[key] == pytest.approx(value, abs=1e-4), (stage, key)
        assert row["near_far_faces"] == faces and row["near_far"] > 1


def test_forms_without_the_papers_map():
    """aan-mean-one: the map is there, the gain's mean is 1 per face (not 1 + M);
    fixed-gain: a constant gain, no map; timm's forms are named, without statistics."""
    batch = [(torch.randn(2, 3, SIZE, SIZE), [np.array([[100.0, 100.0]])] * 2)]
    rows = gate_stats.gate_statistics(build("aan-mean-one"), batch)
    assert all(r["form"] == "aan-mean-one" and r["gain"] == pytest.approx(1.0, abs=1e-4)
               and r["contrast_m"] >= 1 for r in rows)
    rows = gate_stats.gate_statistics(build("fixed-gain"), batch)
    assert all(r["form"] == "fixed-gain" and r["gain"] == 1.58 and r["contrast_gain"] == 1.0
               and "dead" not in r for r in rows)
    rows = gate_stats.gate_statistics(build("aan-norelu"), batch)
    assert all(r["form"] == "aan-norelu" and 1 < r["gain"] < 2 for r in rows)
    timm_config = REPO / "mm_configs" / "aan_timm-resnet18_300w_cpu.py"
    rows = gate_stats.gate_statistics(build("eca", timm_config), batch)
    assert rows and all(r["form"] == "EcaModule" and "gain" not in r for r in rows)
    rows = gate_stats.gate_statistics(build("aan", timm_config), batch)
    assert [r["size"] for r in rows] == [[64, 64], [32, 32], [16, 16], [8, 8]]


@pytest.fixture(scope="module")
def work_dir(tmp_path_factory, fixtures_dir):
    wd = tmp_path_factory.mktemp("gate_stats_run")
    cfg = Config.fromfile(str(CONFIG))
    cfg.merge_from_dict(fixture_overrides(fixtures_dir / "300w", "test_300w.json", iters=2))
    cfg.merge_from_dict({"randomness.seed": 0, "model.head.output_init": "mean_shape"})
    cfg.work_dir = str(wd)
    Runner.from_cfg(cfg).train()
    return wd


def test_tool_on_a_fixture_trained_checkpoint(work_dir, fixtures_dir, tmp_path):
    out = tmp_path / "gate_stats.json"
    gate_stats.main(["--300w-root", str(fixtures_dir / "300w"), "--work-dirs", str(work_dir),
                     "--figures", str(tmp_path / "figs"), "--figure-faces", "2",
                     "--out", str(out)])
    payload = json.loads(out.read_text())
    (model,) = payload["models"]
    assert model["label"] == work_dir.name and model["attention"] == "aan"
    assert model["iterations"] == 2 and model["seed"] == 0 and model["faces"] == 2
    assert model["checkpoint"].endswith("iter_2.pth")
    assert [st["size"] for st in model["stages"]] == [[64, 64], [32, 32], [16, 16], [8, 8]]
    for st in model["stages"]:
        assert 1.5 <= st["gain"] < 2 and 0 <= st["dead"] <= 1 and st["contrast_m"] >= 1
    assert (tmp_path / "figs" / f"{work_dir.name}.png").stat().st_size > 1000
    md = out.with_suffix(".md").read_text()
    assert md == results_text("gate_stats", out, gate_stats.results_markdown)
    assert f"| {work_dir.name} | aan | 1 | 64x64, 4 px, r = 1 |" in md
