"""``bench.cpu_speed`` compares like for like: AAN's ratio to a peer is taken within one
treatment (or each at its fastest of the treatments both had), never AAN's best treatment
against a peer given fewer; README's speed rows (``bench.headline``) read the same way. No
timing is measured here: the rows are made up."""

from __future__ import annotations

import pytest

from bench import cpu_speed, headline
from bench.cpu_speed import CHANNELS_LAST, COMPILED, EAGER, FOLDED, FOLDED_CL


def _rows(rates: dict[str, dict[str, float]]) -> list[dict]:
    """Result rows from ``{model: {treatment: images/s}}``; batch-1 ms = 1000 / images/s."""
    return [dict(model=m, variant=t, images_per_s=v, latency_ms=1000 / v, gflops=1.0,
                 params_m=1.0, gemm_fraction=0.1)
            for m, per in rates.items() for t, v in per.items()]


# before every model had every treatment: AAN folded and compiled, the peer channels-last only
UNEVEN = _rows({"AAN": {EAGER: 10.0, FOLDED_CL: 40.0, COMPILED: 80.0},
                "RTMPose-m": {EAGER: 5.0, CHANNELS_LAST: 10.0}})
# every treatment on both; the peer's fastest is channels-last, AAN's compiled
EVEN = _rows({"AAN": {EAGER: 10.0, CHANNELS_LAST: 15.0, FOLDED: 12.0, FOLDED_CL: 40.0,
                      COMPILED: 80.0},
              "RTMPose-m": {EAGER: 5.0, CHANNELS_LAST: 20.0, FOLDED: 6.0, FOLDED_CL: 16.0,
                            COMPILED: 18.0}})


def test_ratios_are_taken_within_one_treatment():
    """Catches AAN's fastest treatment set against a peer that did not have it (80 / 10)."""
    same = cpu_speed.like_for_like(UNEVEN)
    assert same == {EAGER: {"RTMPose-m": dict(images_per_s=2.0, batch1=2.0)}}
    assert cpu_speed.fastest_each(UNEVEN) == {
        "RTMPose-m": dict(ratio=2.0, aan=EAGER, peer=EAGER)}


def test_every_treatment_gives_a_ratio_and_each_is_compared_at_its_fastest():
    same = cpu_speed.like_for_like(EVEN)
    assert {t: v["RTMPose-m"]["images_per_s"] for t, v in same.items()} == pytest.approx(
        {EAGER: 2.0, CHANNELS_LAST: 0.75, FOLDED: 2.0, FOLDED_CL: 2.5, COMPILED: 80 / 18})
    assert cpu_speed.fastest_each(EVEN)["RTMPose-m"] == dict(
        ratio=pytest.approx(4.0), aan=COMPILED, peer=CHANNELS_LAST)
    assert cpu_speed.over_eager(EVEN)["RTMPose-m"] == pytest.approx(
        {CHANNELS_LAST: 4.0, FOLDED: 1.2, FOLDED_CL: 3.2, COMPILED: 3.6})
    goals = cpu_speed.goals(EVEN, 0.5)
    assert goals["aan_vs_rtmpose_m >= 1.5 (each at its fastest)"] == pytest.approx(4.0)
    assert goals["aan_vs_rtmpose_m >= 1.5 (both eager)"] == pytest.approx(2.0)
    assert goals["aan_vs_resnet50_regression >= 3 (each at its fastest)"] is None


def _payload(rows: list[dict]) -> dict:
    args = dict(threads=2, batch=32, size=256, reps=3, latency_reps=20, train_batch=16,
                train_iters=3, compile=True)
    return dict(args=args, inference=rows, train_images_per_s={"AAN": 4.0},
                aan=dict(config="mm_configs/aan_300w.py", final_input="flatten",
                         branch_input="flatten"), params="test-time", gemm_gflops=100.0,
                aan_gemm_fraction=0.5, environment=dict(cpu="x", torch="2"))


def test_tables_show_the_same_treatment_ratio():
    text = cpu_speed.results_markdown(_payload(EVEN))
    assert "Every model had every treatment." in text
    # the peer's channels-last row: AAN's channels-last (15) over its 20, 4x its eager
    assert "| RTMPose-m | channels-last | 20.0 | 50.0 | 1.0 | 1.00 | 10 |  | 4.00 | 0.75 |" in text
    assert "| each at its fastest (images/s only) | 80.0 (folded BN + channels-last + " \
           "torch.compile) | 4.00 (channels-last) |" in text
    uneven = cpu_speed.results_markdown(_payload(UNEVEN))
    assert "| RTMPose-m | channels-last | 10.0 | 100.0 | 1.0 | 1.00 | 10 |  | 2.00 |  |" \
           in uneven


def test_readme_rows_are_like_for_like():
    even = headline.inference_rows(_payload(EVEN))
    assert "each model at its fastest of the same treatments" in even[0]["what"]
    assert even[0]["measured"] == ("AAN 80.0 images/s (folded BN + channels-last + "
                                   "torch.compile): 4.0x RTMPose-m")
    assert even[1]["measured"] == "AAN 10.0 images/s: 2.0x RTMPose-m"
    assert even[2]["measured"].startswith("AAN: channels-last 1.5x, folded BN 1.2x, ")
    uneven = headline.inference_rows(_payload(UNEVEN))
    assert len(uneven) == 2 and "the only treatment every model had" in uneven[0]["what"]
    assert uneven[0]["measured"] == "AAN 10.0 images/s: 2.0x RTMPose-m"
