"""CosineEmbeddingHead: forward/predict/loss, branches only in loss(), flip test."""

import pytest
import torch
from conftest import make_data_samples
from mmpose.models.utils.tta import flip_coordinates
from mmpose.registry import MODELS

import aan_components.plugin  # noqa: F401  (registers the modules)

CHANNELS = (16, 32, 32, 64)
K = 6


def build_head(**kwargs):
    cfg = dict(type="CosineEmbeddingHead", in_channels=CHANNELS, num_joints=K,
               decoder=dict(type="RegressionLabel", input_size=(64, 64)))
    cfg.update(kwargs)
    return MODELS.build(cfg)


def feats(batch=2):
    return tuple(torch.randn(batch, c, 16 // 2**i, 16 // 2**i) for i, c in enumerate(CHANNELS))


def test_forward_uses_last_feature_map_only():
    head = build_head()
    f = feats()
    out = head(f)
    assert out.shape == (2, K, 2)
    torch.testing.assert_close(out, head.regressor(f[-1]))
    assert len(head.branches) == 4
    assert head.regressor.embedding.out_features == 256


def test_predict_never_runs_the_branches():
    head = build_head().eval()
    calls = []
    for b in head.branches:
        b.register_forward_hook(lambda *a: calls.append(1))
    preds = head.predict(feats(), make_data_samples(2, K), test_cfg=dict(flip_test=False))
    assert calls == []
    assert len(preds) == 2 and preds[0].keypoints.shape == (1, K, 2)
    # and loss() does run each of them
    head.train().loss(feats(), make_data_samples(2, K))
    assert len(calls) == 4


def test_predict_decodes_to_input_pixels():
    head = build_head().eval()
    f = feats(1)
    preds = head.predict(f, make_data_samples(1, K), test_cfg={})
    expected = head(f)[0].detach().numpy() * 64
    assert abs(preds[0].keypoints[0] - expected).max() < 1e-4


def test_flip_test_matches_a_manual_flip():
    head = build_head().eval()
    f, f_flip = feats(2), feats(2)
    samples = make_data_samples(2, K)
    flip_indices = samples[0].metainfo["flip_indices"]
    preds = head.predict([f, f_flip], samples, test_cfg=dict(flip_test=True, shift_coords=True))
    with torch.no_grad():
        plain, flipped = head(f), head(f_flip)
    manual = flipped.clone()
    manual[..., 0] = 1.0 - manual[..., 0] - 1.0 / 64
    manual = manual[:, flip_indices]
    expected = (plain + manual) / 2 * 64
    got = torch.stack([torch.as_tensor(p.keypoints[0]).float() for p in preds])
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-4)
    # the same as MMPose's own helper
    torch.testing.assert_close(manual, flip_coordinates(flipped.clone(), flip_indices, True,
                                                        (64, 64)))


def test_loss_logs_every_stage_and_gradients_reach_every_branch():
    head = build_head()
    losses = head.loss(feats(), make_data_samples(2, K))
    assert set(losses) == {"loss_kpt", "loss_kpt_stage1", "loss_kpt_stage2", "loss_kpt_stage3",
                           "loss_kpt_stage4", "acc_pose"}
    sum(v for k, v in losses.items() if "loss" in k).backward()
    for i, b in enumerate(head.branches):
        assert b.fc.weight.grad is not None and b.fc.weight.grad.abs().sum() > 0, i
    assert head.regressor.embedding.weight.grad.abs().sum() > 0


def test_int_in_channels_means_no_branches_and_any_loss():
    head = build_head(in_channels=64, loss=dict(type="SoftWingLoss"))
    assert len(head.branches) == 0
    losses = head.loss(feats(), make_data_samples(2, K))
    assert set(losses) == {"loss_kpt", "acc_pose"}


def test_embedding_off_is_a_linear_head():
    head = build_head(embedding_dim=None)
    assert isinstance(head.regressor.embedding, torch.nn.Identity)
    assert head.regressor.fc.in_features == 64


@pytest.mark.parametrize(
    "kwargs,match",
    [(dict(loss=dict(type="SmoothL1Loss")), "must be an IntermediateSupervisionLoss"),
     (dict(embedding_dim=0), "embedding_dim must be >= 1"),
     (dict(loss=dict(type="IntermediateSupervisionLoss", stage_weights=[1, 1])),
      "stage_weights has 2 entries but the head makes 4")],
)
def test_config_errors_name_the_field(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build_head(**kwargs)


def test_feature_count_mismatch_is_explained():
    head = build_head()
    with pytest.raises(ValueError, match="4 intermediate branches .* got 3 feature maps"):
        head.loss(feats()[1:], make_data_samples(2, K))


def test_non_finite_labels_of_weightless_points_do_not_reach_the_loss():
    """A point with weight 0 (invisible, outside the crop, or a NaN coordinate: MMPose's
    RegressionLabel gives NaN labels weight 0 but keeps the NaN) must not turn the loss into
    NaN: MMPose's weighted MSE computes 0 * NaN = NaN. Failed before the fix."""
    head = build_head(loss=dict(type="IntermediateSupervisionLoss",
                                loss=dict(type="MSELoss", use_target_weight=True)))
    samples = make_data_samples(2, K)
    labels = samples[0].gt_instance_labels
    labels.keypoint_labels[0, 1] = float("nan")
    labels.keypoint_weights[0, 1] = 0.0
    samples[1].gt_instance_labels.keypoint_labels[0, 2, 0] = float("inf")
    losses = head.loss(feats(), samples)
    assert all(torch.isfinite(v).all() for v in losses.values())
    losses["loss_kpt"].backward()


def test_regressor_inputs_are_chosen_separately_for_head_and_branches():
    """Catches final_input / branch_input not reaching the regressors (both stay 'gap')."""
    sizes = [(16 // 2**i,) * 2 for i in range(len(CHANNELS))]
    head = build_head(final_input="flatten", branch_input="grid2", feature_sizes=sizes)
    assert head.regressor.embedding.in_features == CHANNELS[-1] * 4      # 2x2 map, flattened
    assert [b.fc.in_features for b in head.branches] == [c * 4 for c in CHANNELS]
    assert head(feats()).shape == (2, K, 2)
    with pytest.raises(ValueError, match="feature_sizes has 1 entries"):
        build_head(final_input="flatten", feature_sizes=[(2, 2)])


@pytest.mark.parametrize("loader", ["torch", "mmengine"])
def test_checkpoint_of_another_regressor_input_is_refused_with_a_message(loader):
    """A checkpoint of a head on global average pooling (head version 2) loads into a 'gap'
    head and is refused, naming the option and the input it used, by a 'grid2' one. Catches
    the silent path: mmengine's non-strict loading would skip the mismatched weights and keep
    a random head."""
    from mmengine.runner.checkpoint import load_state_dict

    old = build_head().state_dict()
    old._metadata[""]["version"] = 2  # a version-2 head's metadata

    def load(head):
        if loader == "torch":
            return head.load_state_dict(old)
        return load_state_dict(head, old, strict=False)

    same = build_head()
    load(same)
    torch.testing.assert_close(same.regressor.embedding.weight,
                               old["regressor.embedding.weight"])
    with pytest.raises(ValueError, match=r"head version 2.*final_input='grid2'.*'gap'"):
        load(build_head(final_input="grid2"))
    with pytest.raises(ValueError, match=r"branches.0 .*branch_input='grid2'"):
        load(build_head(branch_input="grid2"))


def test_backbone_feature_sizes_feed_a_flatten_head():
    """AANBackbone.feature_sizes gives exactly what a 'flatten' head needs for its
    out_indices (a wrong size would raise at the first forward)."""
    backbone = MODELS.build(dict(type="AANBackbone", stem_channels=8, stage_channels=CHANNELS,
                                 out_indices=(1, 2, 3)))
    sizes = backbone.feature_sizes((64, 48))
    head = build_head(in_channels=CHANNELS[1:], final_input="flatten", branch_input="flatten",
                      feature_sizes=sizes)
    maps = backbone(torch.randn(2, 3, 64, 48))
    assert [tuple(m.shape[2:]) for m in maps] == list(sizes) == [(4, 3), (2, 2), (1, 1)]
    assert head(maps).shape == (2, K, 2)
