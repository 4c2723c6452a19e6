"""aan_core.network.cosine_embedding / coordinate_regressor: phi = cos(W x + b) and the RFF
start."""

import math

import pytest
import torch

from aan_core import CoordinateRegressor, CosineEmbedding, random_fourier_features, rbf_kernel


def test_layer_equals_formula():
    layer = CosineEmbedding(12, 7)
    x = torch.randn(5, 12)
    expected = torch.cos(x @ layer.weight.T + layer.bias)
    torch.testing.assert_close(layer(x), expected)


def test_initial_draw_has_rff_statistics():
    layer = CosineEmbedding(64, 4096, sigma=2.0)
    assert layer.weight.std().item() == pytest.approx(0.5, rel=0.03)
    assert layer.bias.min() >= 0 and layer.bias.max() <= 2 * math.pi
    assert layer.bias.mean().item() == pytest.approx(math.pi, rel=0.05)
    assert CosineEmbedding(100, 8).sigma == pytest.approx(10.0)


def test_initial_features_approximate_rbf_kernel():
    torch.manual_seed(1)
    dim, sigma = 16, 3.0
    layer = CosineEmbedding(dim, 20000, sigma=sigma)
    x = torch.randn(40, dim)
    y = x[:20] + 0.5 * torch.randn(20, dim)  # pairs at a spread of distances
    points = torch.cat([x, y])
    approx = random_fourier_features(points, layer)
    estimate = approx @ approx.T
    exact = rbf_kernel(points, points, sigma)
    assert exact.min() < 0.2 and exact.max() == pytest.approx(1.0)  # a real spread of values
    assert (estimate - exact).abs().max() < 0.05


def test_learned_layer_no_longer_matches_its_draw_but_stays_a_cosine():
    layer = CosineEmbedding(8, 16)
    opt = torch.optim.SGD(layer.parameters(), lr=1.0)
    layer(torch.randn(4, 8)).sum().backward()
    before = layer.weight.detach().clone()
    opt.step()
    assert not torch.equal(before, layer.weight)
    x = torch.randn(3, 8) * 100
    out = layer(x)
    # cos(W x + b) by hand with the trained W, b. Wrong input caught: the weights of the
    # random draw (``before``), which the layer no longer uses.
    torch.testing.assert_close(out, torch.cos(x @ layer.weight.T + layer.bias))
    assert not torch.allclose(out, torch.cos(x @ before.T + layer.bias), atol=1e-3)


@pytest.mark.parametrize("kwargs", [dict(in_features=0), dict(out_features=0),
                                    dict(sigma=0.0), dict(sigma=-1.0)])
def test_bad_arguments(kwargs):
    args = dict(in_features=4, out_features=4) | kwargs
    with pytest.raises(ValueError, match="CosineEmbedding"):
        CosineEmbedding(**args)


def test_regressor_pools_maps_and_accepts_vectors():
    head = CoordinateRegressor(32, num_points=5, embedding_dim=16)
    maps = torch.randn(2, 32, 4, 4)
    torch.testing.assert_close(head(maps), head(maps.mean(dim=(2, 3))))
    assert head(maps).shape == (2, 5, 2)


def test_regressor_without_embedding_is_linear_and_starts_at_centre():
    head = CoordinateRegressor(8, num_points=3, embedding_dim=None)
    assert isinstance(head.embedding, torch.nn.Identity)
    out = head(torch.zeros(2, 8))
    torch.testing.assert_close(out, torch.full((2, 3, 2), 0.5))


def test_regressor_names_channel_mismatch():
    head = CoordinateRegressor(8, num_points=3)
    with pytest.raises(ValueError, match="in_channels=8 but got features with 6"):
        head(torch.randn(1, 6, 2, 2))
    with pytest.raises(ValueError, match="expects"):
        head(torch.randn(1, 8, 2))


@pytest.mark.parametrize("mode,cells", [("flatten", 16), ("grid2", 4), ("grid1", 1)])
def test_regressor_input_vector_keeps_the_cells(mode, cells):
    """Catches a 'flatten'/'grid<S>' input that pools the map away (as 'gap' does) or that
    is not scaled by the cell count (then equal weights over the cells would not give
    the 'gap' answer)."""
    head = CoordinateRegressor(8, num_points=3, embedding_dim=None, regressor_input=mode,
                               feature_size=(4, 4))
    assert head.fc.in_features == 8 * cells
    maps = torch.randn(2, 8, 4, 4)
    assert head.vectorise(maps).shape == (2, 8 * cells)
    # the output depends on where a feature is (gap would not tell these two apart) ...
    moved = torch.zeros(1, 8, 4, 4)
    moved[..., 0, 0] = 1
    if cells > 1:
        assert not torch.allclose(head(moved), head(moved.roll((3, 3), dims=(2, 3))))
    # ... and a layer with equal weights over the cells computes exactly what 'gap' does
    gap = CoordinateRegressor(8, num_points=3, embedding_dim=None)
    with torch.no_grad():
        head.fc.weight.copy_(gap.fc.weight.repeat_interleave(cells, dim=1))
        head.fc.bias.copy_(gap.fc.bias)
    torch.testing.assert_close(head(maps), gap(maps))


def test_regressor_input_embedding_bandwidth_follows_the_cells():
    """Catches the default sigma = sqrt(D) of a large flattened D (measured: the embedding
    then barely trains); the default is sqrt(C / cells), sqrt(C) for 'gap'."""
    gap = CoordinateRegressor(64, num_points=3, embedding_dim=16)
    grid = CoordinateRegressor(64, num_points=3, embedding_dim=16, regressor_input="grid4")
    assert gap.embedding.sigma == pytest.approx(8.0)
    assert grid.embedding.sigma == pytest.approx(2.0)
    assert grid.embedding.in_features == 64 * 16


@pytest.mark.parametrize("kwargs,match", [
    (dict(regressor_input="flat"), "must be 'gap', 'flatten' or 'grid<S>'"),
    (dict(regressor_input="grid0"), "must be 'gap', 'flatten' or 'grid<S>'"),
    (dict(regressor_input="flatten"), "needs feature_size"),
])
def test_regressor_input_names_bad_choices(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CoordinateRegressor(8, num_points=3, **kwargs)


def test_flatten_regressor_names_a_map_of_another_size():
    head = CoordinateRegressor(8, num_points=3, regressor_input="flatten", feature_size=(4, 4))
    with pytest.raises(ValueError, match="built for 4x4 maps but got 8x8"):
        head(torch.randn(1, 8, 8, 8))
    with pytest.raises(ValueError, match="expects"):
        head(torch.randn(1, 8))
