"""How a model starts training, so that variants start equal (the studies' "fair start"):
every regressor at the training mean shape (``output_init='mean_shape'``), the embedding's
bandwidth from the data (``embedding_sigma='median'``) and the loss weights normalised, in
aan_core and in the MMPose head and loss. Each option is checked against the old behaviour,
which the same measurement must catch."""

from __future__ import annotations

import os

import pytest
import torch
from conftest import make_data_samples
from dist_start_worker import first_batch_start
from mmpose.registry import MODELS
from torch import multiprocessing as mp

from aan_core import AANLandmarkModel, CoordinateRegressor, CosineEmbedding, landmark_loss
from aan_core.network.coordinate_regressor import mean_shape

SMALL = dict(num_points=5, stem_channels=8, stage_channels=(8, 16, 16, 32), embedding_dim=16)


def batch(n: int = 8, size: int = 64, points: int = 5):
    g = torch.Generator().manual_seed(3)
    return (torch.randn(n, 3, size, size, generator=g),
            0.3 + 0.4 * torch.rand(n, points, 2, generator=g))


def initial_offsets(model: AANLandmarkModel, x, y) -> list[float]:
    """Largest distance (crop widths) of any first prediction (final, then every branch)
    from the batch's mean shape, after the first training forward (train mode: BN uses the
    batch, as in the first step; no optimiser step)."""
    model.train()
    with torch.no_grad():
        model(x, y)
        return [float((p - y.mean(0)).norm(dim=-1).max()) for _, p in model.predictions(x)]


@pytest.mark.parametrize("variant", [
    dict(), dict(attention=False), dict(embedding_dim=None),
    dict(final_input="flatten", branch_input="flatten", input_size=64)])
def test_every_regressor_starts_at_the_mean_shape(variant):
    """Catches the old start (weights N(0, 0.01), bias 0.5): its first predictions lie off
    the mean shape by an amount that depends on the variant; with ``'mean_shape'`` every
    regressor of every variant starts on it."""
    x, y = batch()
    torch.manual_seed(0)
    fair = initial_offsets(AANLandmarkModel(**SMALL | variant, output_init="mean_shape"), x, y)
    assert len(fair) == 5 and max(fair) < 1e-6, fair
    torch.manual_seed(0)
    old = initial_offsets(AANLandmarkModel(**SMALL | variant), x, y)
    assert min(old) > 0.01, old  # the same measure catches the old start


def test_first_loss_is_the_mean_shape_loss_and_the_start_is_kept():
    """The first batch sets the bias before it is predicted (its loss is the mean shape's);
    a later batch does not move it; a start given before training (the whole training set's
    mean) is not overridden by the first batch."""
    x, y = batch()
    model = AANLandmarkModel(**SMALL, output_init="mean_shape").train()
    loss = model(x, y)
    expected = landmark_loss([(1.0, y.mean(0).expand_as(y))] * 5, y)
    torch.testing.assert_close(loss, expected)
    bias = model.regressor.fc.bias.detach().clone()
    model(x, y.flip(0) * 0.5)
    torch.testing.assert_close(model.regressor.fc.bias, bias)
    preset = AANLandmarkModel(**SMALL, output_init="mean_shape")
    everything = torch.rand(100, 5, 2)
    preset.start_at_mean_shape(everything)
    preset.train()(x, y)
    for reg in preset.regressors:
        torch.testing.assert_close(reg.fc.bias.view(5, 2), everything.mean(0))


def test_loaded_weights_are_never_reset():
    """A checkpoint's regressors and embedding keep their weights on the first training
    batch after loading (catches a data-dependent start that re-runs on resume)."""
    x, y = batch()
    trained = AANLandmarkModel(**SMALL, output_init="mean_shape",
                               embedding_sigma="median").train()
    optim = torch.optim.SGD(trained.parameters(), lr=0.1)
    trained(x, y).backward()
    optim.step()
    state = {k: v.clone() for k, v in trained.state_dict().items()}
    assert torch.isfinite(state["regressor.embedding.fitted_sigma"])
    fresh = AANLandmarkModel(**SMALL, output_init="mean_shape", embedding_sigma="median")
    fresh.load_state_dict(state)
    fresh.train()(x, y * 0.5)
    for key in ("regressor.fc.bias", "regressor.fc.weight", "regressor.embedding.weight",
                "branches.0.fc.bias"):
        torch.testing.assert_close(fresh.state_dict()[key], state[key], msg=key)
    assert fresh.regressor.embedding.sigma == pytest.approx(
        float(state["regressor.embedding.fitted_sigma"]))


def test_mean_shape_leaves_out_weightless_and_non_finite_points():
    points = torch.tensor([[[0.2, 0.2], [0.5, 0.5]], [[0.4, 0.4], [float("nan"), 0.1]],
                           [[0.9, 0.9], [0.7, 0.7]]])
    weights = torch.tensor([[1.0, 1.0], [1.0, 1.0], [0.0, 1.0]])
    torch.testing.assert_close(mean_shape(points, weights),
                               torch.tensor([[0.3, 0.3], [0.6, 0.6]]))
    reg = CoordinateRegressor(4, num_points=2, embedding_dim=None, output_init="mean_shape")
    reg.start_at(torch.tensor([[0.1, 0.2], [float("nan"), float("nan")]]))
    torch.testing.assert_close(reg.fc.bias, torch.tensor([0.1, 0.2, 0.5, 0.5]))


def median_over_sigma(model: AANLandmarkModel, x) -> float:
    """Median pairwise distance of the embedding's input vectors over its bandwidth."""
    with torch.no_grad():
        vec = model.regressor.vectorise(model.features(x)[-1])
    return float(torch.pdist(vec).median()) / model.regressor.embedding.sigma


@pytest.mark.parametrize("regressor_input", ["gap", "flatten"])
def test_median_bandwidth_matches_attention_and_no_attention_alike(regressor_input):
    """With the median heuristic the first batch's median distance equals sigma with and
    without attention; the old fixed sigma (sqrt(C / cells)) catches neither: its ratio is
    off 1 and differs between the two (attention scales the maps by 1 + M)."""
    x, y = batch(16)
    kw = dict(final_input=regressor_input, branch_input=regressor_input, input_size=64)
    ratios = {}
    for sigma in ("median", None):
        for attention in (True, False):
            torch.manual_seed(0)
            model = AANLandmarkModel(**SMALL | kw, attention=attention,
                                     embedding_sigma=sigma).train()
            with torch.no_grad():
                model(x, y)
            ratios[sigma, attention] = median_over_sigma(model, x)
    assert ratios["median", True] == pytest.approx(1.0, rel=1e-4)
    assert ratios["median", False] == pytest.approx(1.0, rel=1e-4)
    assert abs(ratios[None, True] - 1) > 0.1 and abs(ratios[None, False] - 1) > 0.1
    assert abs(ratios[None, True] - ratios[None, False]) > 0.1


def test_median_bandwidth_rescales_the_seeded_draw_once_and_only_in_training():
    """Deterministic given the seed (the construction's draw, rescaled; no new random
    numbers), set once, never in eval mode; the fixed-sigma layer's draw is the same one."""
    x = torch.randn(6, 10) * 4
    torch.manual_seed(5)
    fixed = CosineEmbedding(10, 32)
    torch.manual_seed(5)
    layer = CosineEmbedding(10, 32, sigma="median")
    torch.testing.assert_close(layer.weight, fixed.weight)  # same draw before the data
    layer.eval()(x)
    assert layer.sigma_pending and torch.isnan(layer.fitted_sigma)
    state = torch.random.get_rng_state()
    layer.train()(x)
    assert torch.equal(torch.random.get_rng_state(), state)  # no random numbers drawn
    median = float(torch.pdist(x).median())
    assert layer.sigma == pytest.approx(median) and float(layer.fitted_sigma) == layer.sigma
    torch.testing.assert_close(layer.weight, fixed.weight * fixed.sigma / median)
    before = layer.weight.detach().clone()
    layer(x * 10)
    assert torch.equal(layer.weight, before)
    with pytest.raises(ValueError, match="at least 2 input vectors"):
        CosineEmbedding(10, 4, sigma="median").train()(x[:1])
    with pytest.raises(ValueError, match="all equal or not finite"):
        CosineEmbedding(10, 4, sigma="median").train()(torch.ones(3, 10))
    with pytest.raises(ValueError, match="None or 'median'"):
        CosineEmbedding(10, 4, sigma="mean")


def test_fixed_sigma_weights_load_into_a_median_layer_without_a_refit():
    fixed = CosineEmbedding(10, 8)
    layer = CosineEmbedding(10, 8, sigma="median")
    layer.load_state_dict(fixed.state_dict())
    assert not layer.sigma_pending and torch.isnan(layer.fitted_sigma)
    layer.train()(torch.randn(4, 10))
    torch.testing.assert_close(layer.weight, fixed.weight)


def test_normalised_loss_weights_sum_to_one_with_and_without_branches():
    x, y = batch()
    with_branches = AANLandmarkModel(**SMALL, normalise_weights=True).eval()
    without = AANLandmarkModel(**SMALL, branches=False, normalise_weights=True).eval()
    assert sum(with_branches.loss_weights) == pytest.approx(1.0)
    assert without.loss_weights == (1.0,)
    plain = AANLandmarkModel(**SMALL).eval()
    plain.load_state_dict(with_branches.state_dict())
    assert sum(plain.loss_weights) == 5.0  # the paper's sum: 5x the data term
    torch.testing.assert_close(with_branches(x, y), plain(x, y) / 5)


def test_intermediate_supervision_loss_normalises_its_weights():
    loss = MODELS.build(dict(type="IntermediateSupervisionLoss", loss=dict(type="L1Loss"),
                             stage_weights=[1.0, 3.0], final_weight=4.0,
                             normalise_weights=True))
    t = torch.zeros(2, 3, 2)
    out = loss(torch.ones(2, 3, 2), [torch.ones(2, 3, 2)] * 2, t)
    assert [round(v.item(), 6) for v in out.values()] == [0.5, 0.125, 0.375]


def test_core_model_and_mmpose_loss_name_their_weights_alike():
    """aan_core's model takes the MMPose loss's weight names (stage_weights, final_weight,
    normalise_weights) and weighs as it does: final 4, stages 1 and 3, normalised."""
    import inspect

    from aan_components.models.intermediate_supervision_loss import IntermediateSupervisionLoss

    weights = dict(stage_weights=[1.0, 3.0, 1.0, 3.0], final_weight=4.0, normalise_weights=True)
    assert set(weights) <= set(inspect.signature(IntermediateSupervisionLoss).parameters)
    model = AANLandmarkModel(**SMALL, **weights)
    assert model.loss_weights == pytest.approx((4 / 12, 1 / 12, 3 / 12, 1 / 12, 3 / 12))


HEAD = dict(type="CosineEmbeddingHead", in_channels=(8, 16), num_joints=6,
            decoder=dict(type="RegressionLabel", input_size=(64, 64)))


def head_feats(n: int = 4):
    g = torch.Generator().manual_seed(1)
    return (torch.rand(n, 8, 8, 8, generator=g), torch.rand(n, 16, 4, 4, generator=g) * 3)


def test_head_starts_at_the_first_batch_mean_shape():
    """``output_init='mean_shape'`` in the MMPose head: after the first ``loss()`` every
    regressor predicts that batch's mean of the labels, weightless points left out
    (catches the old init, and a start from a mean that counts invisible points)."""
    weights = torch.ones(4, 6)
    weights[0, 2] = 0
    samples = make_data_samples(4, 6, weights=weights)
    labels = torch.cat([s.gt_instance_labels.keypoint_labels for s in samples])
    expected = mean_shape(labels, weights)
    assert not torch.allclose(expected, labels.mean(0))
    feats = head_feats()
    for init, starts in (("mean_shape", True), ("normal", False)):
        torch.manual_seed(0)
        head = MODELS.build(HEAD | dict(output_init=init)).train()
        head.loss(feats, samples)
        with torch.no_grad():
            preds = [head(feats), *head.forward_branches(feats)]
        assert all(torch.allclose(p, expected.expand_as(p), atol=1e-6) for p in preds) \
            == starts, init


def test_head_median_bandwidth_and_loaded_head_is_kept():
    feats = head_feats()
    samples = make_data_samples(4, 6)
    head = MODELS.build(HEAD | dict(output_init="mean_shape", embedding_sigma="median"))
    head.train().loss(feats, samples)
    vec = head.regressor.vectorise(feats[-1])
    assert head.regressor.embedding.sigma == pytest.approx(float(torch.pdist(vec).median()))
    state = {k: v.clone() for k, v in head.state_dict().items()}
    again = MODELS.build(HEAD | dict(output_init="mean_shape", embedding_sigma="median"))
    again.load_state_dict(state)
    again.train().loss(tuple(f * 2 for f in feats), make_data_samples(4, 6))
    for k, v in again.state_dict().items():
        torch.testing.assert_close(v, state[k], msg=k)


@pytest.mark.slow
def test_distributed_ranks_start_equal():
    """Two processes with different first batches end with the same start: the mean shape
    of both batches together and one sigma (the ranks' medians averaged), so their weights
    stay equal (catches a per-rank start, which DDP would never reconcile)."""
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    port = 29500 + os.getpid() % 1000
    procs = [ctx.Process(target=first_batch_start, args=(r, 2, port, out)) for r in (0, 1)]
    for p in procs:
        p.start()
    results = sorted(out.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    (_, s0, b0, y0, w0), (_, s1, b1, y1, w1) = results
    assert s0 == s1
    torch.testing.assert_close(b0, b1)
    torch.testing.assert_close(b0.view(5, 2), (y0 + y1) / 8)
    torch.testing.assert_close(w0, w1)
