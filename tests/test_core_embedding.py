"""aan_core.cosine_embedding / coordinate_regressor: phi = cos(W x + b) and the RFF start."""

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
