"""aan_core.network.attention / aan_features: the building block F = (1 + M) * H and the
extractor."""

import pytest
import torch

from aan_core import AANFeatureExtractor, AttentionGate, AttentionResidualStage, SpatialAttention


@pytest.mark.parametrize("size", [(32, 32), (64, 48), (57, 33)])
def test_stage_keeps_resolution_and_sets_channels(size):
    stage = AttentionResidualStage(16, 32)
    out = stage(torch.randn(2, 16, *size))
    assert out.shape == (2, 32, *size)
    assert stage.attention_map.shape == (2, 1, *size)


def test_output_is_one_plus_map_times_residual_exactly():
    stage = AttentionResidualStage(8, 16).eval()
    captured = {}
    stage.residual.register_forward_hook(lambda m, i, o: captured.__setitem__("h", o.clone()))
    stage.gate.attention.register_forward_hook(
        lambda m, i, o: captured.__setitem__("m", o.clone()))
    out = stage(torch.randn(3, 8, 10, 10))
    h, m = captured["h"], captured["m"]
    assert m.shape == (3, 1, 10, 10)
    torch.testing.assert_close(out, (1 + m) * h, rtol=0, atol=1e-6)
    # the stored map is the one that was applied
    torch.testing.assert_close(stage.attention_map, m, rtol=0, atol=0)


def test_attention_map_range_follows_the_paper_relu():
    x = torch.randn(4, 8, 12, 12) * 5
    with_relu = SpatialAttention(8, relu=True).train()(x)
    assert with_relu.min() >= 0.5 and with_relu.max() <= 1.0
    without = SpatialAttention(8, relu=False).train()(x)
    assert without.min() < 0.5 and without.min() >= 0.0 and without.max() <= 1.0


def test_attention_off_returns_residual_and_has_no_attention_parameters():
    stage = AttentionResidualStage(8, 16, attention=False).eval()
    x = torch.randn(2, 8, 9, 9)
    torch.testing.assert_close(stage(x), stage.residual(x), rtol=0, atol=0)
    assert stage.attention_map is None
    assert not any("gate" in name for name, _ in stage.named_parameters())


def test_map_forced_to_zero_gives_residual():
    gate = AttentionGate(4)
    h = torch.randn(2, 4, 5, 5)
    gate.attention.forward = lambda x: torch.zeros_like(x[:, :1])
    torch.testing.assert_close(gate(h), h, rtol=0, atol=0)


def test_gradients_reach_every_attention_conv():
    net = AANFeatureExtractor(stem_channels=16, stage_channels=(16, 32, 32, 64))
    feats = net(torch.randn(4, 3, 96, 96))
    sum(f.square().mean() for f in feats).backward()
    for i, stage in enumerate(net.stages):
        grad = stage.gate.attention.conv.weight.grad
        assert grad is not None and grad.abs().sum() > 0, f"stage {i} attention got no gradient"


@pytest.mark.parametrize(
    "size,stem_stride,expected",
    [((128, 128), 4, [16, 8, 4, 2]), ((256, 256), 4, [32, 16, 8, 4]),
     ((100, 60), 2, [25, 13, 7, 4]), ((64, 64), 1, [32, 16, 8, 4])],
)
def test_extractor_returns_every_stage_pooled(size, stem_stride, expected):
    net = AANFeatureExtractor(stem_channels=8, stem_stride=stem_stride,
                              stage_channels=(8, 16, 16, 32))
    feats = net(torch.randn(1, 3, *size))
    assert [f.shape[1] for f in feats] == [8, 16, 16, 32]
    assert [f.shape[2] for f in feats] == expected
    assert net.reductions == tuple(stem_stride * 2 ** (i + 1) for i in range(4))
    maps = net.attention_maps
    assert len(maps) == 4
    # maps are at each stage's own resolution, before its pooling
    assert [m.shape[-2] for m in maps[1:]] == expected[:-1]


def test_avg_pool_and_several_blocks():
    net = AANFeatureExtractor(stem_channels=8, stage_channels=(8, 16), blocks_per_stage=2,
                              pool="avg")
    assert len(net.stages[0].residual) == 2
    assert [f.shape[-1] for f in net(torch.randn(1, 3, 64, 64))] == [8, 4]


@pytest.mark.parametrize(
    "kwargs,match",
    [(dict(pool="strided"), "pool must be"), (dict(stem_stride=3), "stem_stride"),
     (dict(stage_channels=(10, 16)), "multiple of 4"), (dict(stage_channels=()), "at least"),
     (dict(blocks_per_stage=0), "num_blocks")],
)
def test_bad_arguments_name_the_field(kwargs, match):
    with pytest.raises(ValueError, match=match):
        AANFeatureExtractor(**kwargs)


@pytest.mark.parametrize("stem_stride,poolings", [(4, 5), (2, 4), (1, 4)])
@pytest.mark.parametrize("size", [128, 97])
def test_feature_sizes_match_the_maps_and_count_the_poolings(stem_stride, poolings, size):
    """Catches a feature_sizes that ignores the stem's max-pool or rounds odd sizes down
    (the 'flatten' regressor would then be built for the wrong map); stem_stride=2 leaves
    exactly the paper's four pooling layers."""
    net = AANFeatureExtractor(stem_channels=8, stem_stride=stem_stride,
                              stage_channels=(8, 8, 8, 8))
    maps = net(torch.randn(1, 3, size, size + 5))
    assert [tuple(f.shape[2:]) for f in maps] == list(net.feature_sizes((size, size + 5)))
    pools = sum(isinstance(m, torch.nn.MaxPool2d) for m in net.stem) + len(net.stages)
    assert pools == poolings
