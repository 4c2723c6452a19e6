"""IntermediateSupervisionLoss: weighted sum over final + stage predictions."""

import pytest
import torch
from mmpose.registry import MODELS

import aan_components.plugin  # noqa: F401


def build(**kwargs):
    return MODELS.build(dict(type="IntermediateSupervisionLoss", **kwargs))


def test_equals_hand_computed_weighted_sum():
    loss = build(loss=dict(type="L1Loss"), stage_weights=[0.1, 0.2, 0.3], final_weight=2.0)
    target = torch.rand(4, 5, 2)
    final = torch.rand(4, 5, 2)
    stages = [torch.rand(4, 5, 2) for _ in range(3)]
    out = loss(final, stages, target)
    l1 = lambda p: (p - target).abs().mean()  # noqa: E731
    expected = {"loss_kpt": 2.0 * l1(final)}
    for i, (p, w) in enumerate(zip(stages, [0.1, 0.2, 0.3], strict=True), 1):
        expected[f"loss_kpt_stage{i}"] = w * l1(p)
    assert out.keys() == expected.keys()
    for k in expected:
        torch.testing.assert_close(out[k], expected[k])
    torch.testing.assert_close(sum(out.values()), sum(expected.values()))


@pytest.mark.parametrize("inner", ["SmoothL1Loss", "L1Loss", "MSELoss", "WingLoss",
                                   "SoftWingLoss"])
def test_zero_target_weights_silence_points(inner):
    loss = build(loss=dict(type=inner, use_target_weight=True))
    target = torch.rand(2, 4, 2)
    weight = torch.ones(2, 4, 1)
    weight[:, 2:] = 0
    pred = target.clone()
    far = pred.clone()
    far[:, 2:] += 100.0  # huge errors only where the weight is 0
    a = loss(pred, [pred, pred], target, weight)
    b = loss(far, [far, far], target, weight)
    for k in a:
        torch.testing.assert_close(a[k], b[k])
    near = pred.clone()
    near[:, :2] += 0.3  # errors where the weight is 1 do count
    c = loss(near, [near, near], target, weight)
    assert all(c[k] > a[k] for k in a)


def test_single_weight_applies_to_every_stage_and_no_stages_is_fine():
    loss = build(loss=dict(type="MSELoss"), stage_weights=0.5)
    t = torch.zeros(1, 2, 2)
    out = loss(torch.ones(1, 2, 2), [torch.ones(1, 2, 2)] * 3, t)
    assert [round(v.item(), 6) for v in out.values()] == [1.0, 0.5, 0.5, 0.5]
    assert list(loss(torch.ones(1, 2, 2), [], t)) == ["loss_kpt"]


def test_loss_name_must_contain_loss():
    with pytest.raises(ValueError, match="must contain 'loss'"):
        build(loss_name="kpt")


def test_stage_weight_count_mismatch():
    loss = build(stage_weights=[1.0, 1.0])
    with pytest.raises(ValueError, match="2 entries but the head makes 3"):
        loss(torch.zeros(1, 2, 2), [torch.zeros(1, 2, 2)] * 3, torch.zeros(1, 2, 2),
             torch.ones(1, 2, 1))


def test_euclidean_loss_is_caffes_sum_over_points_halved_per_image():
    """EuclideanLoss = sum((pred - gt)^2) / (2 N) with the weights applied, whatever K is.
    Wrong input caught: MMPose's element-mean MSELoss (K times smaller)."""
    for k in (5, 19, 68):
        pred, target = torch.rand(3, k, 2), torch.rand(3, k, 2)
        weight = torch.ones(3, k, 1)
        weight[:, 0] = 0
        loss = MODELS.build(dict(type="EuclideanLoss", use_target_weight=True))
        expected = ((pred - target) ** 2 * weight).sum() / (2 * 3)
        torch.testing.assert_close(loss(pred, target, weight), expected)
        mean_mse = MODELS.build(dict(type="MSELoss", use_target_weight=True))
        assert not torch.allclose(mean_mse(pred, target, weight), expected)


def _head_loss_of(config_file, k: int):
    from mmengine.config import Config

    cfg = Config.fromfile(str(config_file))
    loss = MODELS.build(cfg.model.head.loss)
    pred, target = torch.rand(2, k, 2), torch.rand(2, k, 2)
    return loss(pred, [pred] * 4, target, torch.ones(2, k, 1))["loss_kpt"], pred, target


def test_a_dataset_config_gets_the_euclidean_scale_without_restating_k(tmp_path):
    """A new dataset config on the recipe that sets only its number of points gets the
    Caffe EuclideanLoss scale for that K. Wrong input caught: the configs before the loss
    owned its scale (MSELoss with loss_weight=68 in the base): a 5-point config that forgot
    to restate loss_weight trained with 68/5 times the loss."""
    from conftest import REPO

    derived = tmp_path / "five_points.py"
    derived.write_text(f"_base_ = [{str(REPO / 'mm_configs' / 'aan_300w.py')!r}]\n"
                       "model = dict(head=dict(num_joints=5))\n")
    value, pred, target = _head_loss_of(derived, 5)
    torch.testing.assert_close(value, ((pred - target) ** 2).sum() / (2 * 2))
