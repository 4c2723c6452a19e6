"""The crop size is stated once: a one-line child config that changes the codec's crop or the
backbone's stem stride builds a model whose flattened head fits the maps it gets
(``head.feature_sizes='auto'``, resolved by ``AANPoseEstimator`` from the backbone's own
geometry), with no map size or channel list typed by hand."""

from __future__ import annotations

import pytest
import torch
from mmengine.config import Config

from aan_components import CONFIG_DIR


@pytest.mark.parametrize("size", [96, 160])
@pytest.mark.parametrize("stem_stride", [4, 2])
def test_one_line_child_config_builds_at_its_crop_and_stem(tmp_path, size, stem_stride):
    """Catches map sizes that do not follow the crop (a head built for 128 px fails at its
    first forward at 96 or 160) or that assume the ResNet stem (stem_stride=4)."""
    from mmpose.registry import MODELS

    child = tmp_path / "child.py"
    child.write_text(
        f"_base_ = ['{CONFIG_DIR / 'aan_synthetic.py'}']\n"
        f"model = dict(backbone=dict(stem_stride={stem_stride}), "
        f"head=dict(decoder=dict(input_size=({size}, {size}))))\n")
    cfg = Config.fromfile(str(child), import_custom_modules=False)
    model = MODELS.build(cfg.model).eval()
    reduction = {4: 4, 2: 2}[stem_stride] * 2  # the stem, then the first stage's pooling
    assert model.head.final_input == "flatten"
    with torch.no_grad():
        maps = model.backbone(torch.zeros(1, 3, size, size))
        coords = model.head(maps)
        branches = model.head.forward_branches(maps)
    assert tuple(maps[0].shape[2:]) == (-(-size // reduction),) * 2
    assert coords.shape == (1, cfg.model.head.num_joints, 2)
    assert [b.shape for b in branches] == [coords.shape] * len(maps)


def test_auto_sizes_need_the_codec():
    """``feature_sizes='auto'`` reads the crop from ``head.decoder.input_size``; a head
    without one is refused, naming the field."""
    from aan_components.models.aan_pose_estimator import resolve_head_sizes

    with pytest.raises(ValueError, match=r"head.decoder.input_size \(the codec\)"):
        resolve_head_sizes(dict(backbone=dict(type="AANBackbone"),
                                head=dict(feature_sizes="auto")))


def test_non_square_crop_gives_height_then_width():
    """MMPose's ``input_size`` is ``(W, H)``; the maps are ``(H, W)``."""
    from aan_components.models.aan_pose_estimator import backbone_feature_sizes

    sizes = backbone_feature_sizes(dict(type="AANBackbone", stem_stride=4), (128, 64))
    assert sizes[0] == (8, 16)
