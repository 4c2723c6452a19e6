"""The timm-backbone 300W configs: every one builds; a few train on the real 300W fixture."""

import pytest
import torch
from conftest import REPO
from fixture_runs import fixture_overrides
from mmengine.config import Config
from mmengine.runner import Runner
from mmpose.registry import MODELS

CONFIGS = sorted((REPO / "mm_configs").glob("aan_timm-*_300w*.py"))


def test_there_are_four_backbones_with_and_without_attention():
    names = {p.stem for p in CONFIGS if not p.stem.endswith("_cpu")}  # + the CPU study's
    assert len(names) == 8
    assert sum(n.endswith("_no-attention") for n in names) == 4


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_config_builds_and_predicts(path):
    cfg = Config.fromfile(str(path))
    model = MODELS.build(cfg.model).eval()
    # timm's SE, the form that won inside resnet18 (docs/studies.md "Why attention costs")
    attention = "none" if path.stem.endswith("_no-attention") else "se"
    assert model.backbone.body.attention == attention
    assert all(type(g).__name__ == ("Identity" if attention == "none" else "SEModule")
               for g in model.backbone.body.gates)
    assert len(model.head.branches) == len(model.backbone.out_channels) == 4
    with torch.no_grad():
        out = model(torch.randn(1, 3, 256, 256), None, mode="tensor")
    assert out.shape == (1, 68, 2)


@pytest.mark.slow  # trains with mmengine's Runner
@pytest.mark.parametrize("name", ["aan_timm-efficientnet-b0_300w", "aan_timm-swin-tiny_300w"])
def test_trains_two_iterations_on_the_300w_fixture(name, fixtures_dir, tmp_path):
    cfg = Config.fromfile(str(REPO / "mm_configs" / f"{name}.py"))
    cfg.merge_from_dict(fixture_overrides(fixtures_dir / "300w", "test_300w.json", iters=2))
    cfg.work_dir = str(tmp_path)
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert (tmp_path / "iter_2.pth").is_file()
    assert "train/loss_kpt_stage4" in runner.message_hub.log_scalars
