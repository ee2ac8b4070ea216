"""The verdict rules and seed-level statistics, on hand-checkable numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from ditgp.theory.errors import SpecError
from ditgp.verify.reproduce import verdict as V


def test_sign_flip_p_is_exact_and_never_zero():
    # 3 positive seeds: only the observed pattern reaches the mean → 1/8
    assert V.sign_flip_p([1.0, 2.0, 3.0]) == pytest.approx(1 / 8)
    # 2 seeds: the smallest honest p is 1/4
    assert V.sign_flip_p([5.0, 5.0]) == pytest.approx(1 / 4)
    # mixed signs: patterns with mean ≥ 1/3 of (2, −1, 1): (2,-1,1),(2,1,1),(2,1,-1),(-2,1,1)?
    x = [2.0, -1.0, 1.0]
    pats = [np.array(s) * x for s in np.array(np.meshgrid(*[[1, -1]] * 3)).T.reshape(-1, 3)]
    want = np.mean([p.mean() >= np.mean(x) - 1e-12 for p in pats])
    assert V.sign_flip_p(x) == pytest.approx(want)
    assert V.sign_flip_p([-1.0, -2.0, -3.0], alternative="less") == pytest.approx(1 / 8)


def test_mean_interval_student_t_by_hand():
    x = [0.1, 0.3, 0.2, 0.4]
    mi = V.mean_interval(x, 0.05)
    sd = np.std(x, ddof=1)
    assert mi["lo"] == pytest.approx(0.25 - 2.353363 * sd / 2, rel=1e-6)
    assert mi["hi"] == pytest.approx(0.25 + 2.353363 * sd / 2, rel=1e-6)
    assert V.mean_interval([1.0, 1.0])["degenerate"]  # zero spread: no interval, no p = 0


def test_detectable_effect_and_seeds_needed():
    # n = 5, α = 0.05, power 0.8: (t_.95,4 + t_.8,4)·sd/√5 = (2.1318 + 0.9410)·1/√5
    assert V.detectable_effect(1.0, 5) == pytest.approx((2.131847 + 0.940965) / math.sqrt(5),
                                                        rel=1e-5)
    n = V.seeds_needed(0.5, 1.0)
    assert V.detectable_effect(1.0, n) <= 0.5 < V.detectable_effect(1.0, n - 1)
    assert V.seeds_needed(0.0, 1.0) is None


@pytest.mark.parametrize("diffs,want", [
    ([0.5, 0.6, 0.55, 0.52, 0.58], "supported"),
    ([-0.5, -0.6, -0.55, -0.52, -0.58], "refuted"),
    ([0.5, -0.4, 0.1, -0.2, 0.05], "inconclusive"),
    ([0.5, 0.6], "inconclusive"),  # two seeds cannot reach α = 0.05 (p ≥ 1/4)
])
def test_decide(diffs, want):
    assert V.decide(diffs)["verdict"] == want


def test_a_supported_control_blocks_support():
    d = V.decide([0.5, 0.6, 0.55, 0.52, 0.58], control="supported")
    assert d["verdict"] == "inconclusive" and d["blocked_by_control"]


def test_seed_level_verdict_has_the_schema_and_power():
    v = V.seed_level_test([0.5, 0.6, 0.55, 0.52, 0.58], claim="c", statistic="s",
                          control_name="Γ = I", control_verdict="inconclusive")
    V.validate_verdict(v)
    assert v["verdict"] == "supported" and v["replication"] == {"unit": "seeds", "n": 5}
    assert v["interval"][0] > 0 and "detects a mean effect" in v["power"]
    few = V.seed_level_test([0.5, 0.6], claim="c", statistic="s", control_name="x",
                            control_verdict=None)
    assert few["verdict"] == "inconclusive" and "needs ≥ 5 seeds" in few["power"]
    assert "# " not in V.verdict_markdown(v) and "SUPPORTED" in V.verdict_markdown(v)


@pytest.mark.parametrize("bad", [
    {"verdict": "maybe"}, {"alpha": 0.0}, {"interval": [1.0]}, {"replication": {"unit": "s"}},
    {"control": {"name": "x", "verdict": "yes"}},
])
def test_validate_verdict_refuses_schema_breaks(bad):
    v = V.make_verdict(claim="c", verdict="inconclusive", statistic="s", estimate=0.0,
                       interval=[0.0, 1.0], alpha=0.05, unit="seeds", n=3, control_name="x",
                       control_verdict=None, power="p")
    with pytest.raises(SpecError):
        V.validate_verdict({**v, **bad})


@pytest.mark.parametrize("diffs,want", [
    ([0.01, -0.02, 0.015, 0.0, -0.01], "supported"),   # inside ±0.06, both tests at p = 1/32
    ([-0.8, -0.82, -0.79, -0.85, -0.8], "refuted"),     # entirely below −δ
    ([0.8, 0.82, 0.79, 0.85, 0.8], "refuted"),          # entirely above +δ (an overshoot)
    ([0.05, -0.1, 0.2, -0.15, 0.1], "inconclusive"),    # too noisy to place
    ([0.05, 0.065, 0.045, 0.062, 0.052], "inconclusive"),  # mean inside, interval crosses +δ
    ([0.01, -0.01, 0.02], "inconclusive"),              # 3 seeds: a sign-flip p ≥ 1/8
])
def test_equivalence_test(diffs, want):
    v = V.equivalence_test(diffs, 0.06, claim="c", statistic="s", control_name="x",
                           control_verdict=None)
    V.validate_verdict(v)
    assert v["verdict"] == want, v
    if want == "supported":
        assert -0.06 < v["interval"][0] < v["interval"][1] < 0.06


def test_equivalence_control_gate_and_margin():
    d = [0.01, -0.02, 0.015, 0.0, -0.01]
    v = V.equivalence_test(d, 0.06, claim="c", statistic="s", control_name="x",
                           control_verdict="supported")
    assert v["verdict"] == "inconclusive" and v["details"]["blocked_by_control"]
    with pytest.raises(SpecError, match="margin"):
        V.equivalence_test(d, 0.0, claim="c", statistic="s", control_name="x",
                           control_verdict=None)


def test_equivalence_seeds_needed_by_hand():
    # sd = √2·SE, δ = 2·SE: (t_.95,n−1 + t_.9,n−1)/√n ≤ √2 first holds at n = 7
    n = V.equivalence_seeds_needed(math.sqrt(2), 2.0)
    assert n == 7
    from scipy.stats import t
    q = [(t.ppf(0.95, k - 1) + t.ppf(0.9, k - 1)) / math.sqrt(k) for k in (6, 7)]
    assert q[0] * math.sqrt(2) > 2.0 >= q[1] * math.sqrt(2)
