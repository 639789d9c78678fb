"""The paper's summary metrics (final return, AUC, gain) and the bootstrap intervals, checked
against hand computations, closed-form integrals and the paper's own Table 2."""

from __future__ import annotations

import numpy as np
import pytest

from marta.reproduce import metrics
from marta.reproduce.paper import paper_pair, paper_table2


# ------------------------------------------------------------------------------ final return
def test_final_return_is_the_mean_of_the_last_five_evaluations():
    curve = np.arange(10.0)  # evaluations 0..9: the last five are 5..9, mean 7
    returns = np.stack([curve, curve + 100, -curve])
    np.testing.assert_allclose(metrics.final_return(returns), [7.0, 107.0, -7.0])


def test_final_return_of_a_short_curve_averages_all_evaluations():
    np.testing.assert_allclose(metrics.final_return(np.array([[1.0, 2.0, 6.0]])), [3.0])
    np.testing.assert_allclose(metrics.final_return(np.array([[4.0, 8.0]]), last=1), [8.0])
    assert metrics.final_return(np.zeros((2, 0))).shape == (0,)


def test_best_return_is_each_seeds_highest_evaluation_wherever_it_falls():
    """The paper's "best-performing checkpoint": a mid-run peak counts, not the last value;
    for negative returns (Traffic Junction) the one closest to 0."""
    returns = np.array([[1.0, 9.0, 3.0, 2.0], [-40.0, -12.0, -30.0, -25.0]])
    np.testing.assert_allclose(metrics.best_return(returns), [9.0, -12.0])
    assert metrics.best_return(np.zeros((2, 0))).shape == (0,)
    with pytest.raises(ValueError, match="returns must be a 2-d array"):
        metrics.best_return(np.arange(5.0))


def test_final_return_rejects_bad_input():
    with pytest.raises(ValueError, match="returns must be a 2-d array"):
        metrics.final_return(np.arange(5.0))
    with pytest.raises(ValueError, match="last must be >= 1"):
        metrics.final_return(np.zeros((1, 3)), last=0)


def test_mean_std_is_the_population_std_over_seeds():
    mean, std = metrics.mean_std(np.array([1.0, 3.0]))
    assert (mean, std) == (2.0, 1.0)  # population: sqrt(((1-2)^2 + (3-2)^2) / 2) = 1
    assert all(np.isnan(metrics.mean_std(np.zeros(0))))


# ------------------------------------------------------------------------------ AUC
def test_auc_of_a_linear_curve_is_its_integral():
    # y = a x + b on uneven steps: the trapezoid rule is exact for a line
    steps = np.array([1_000.0, 3_000.0, 4_000.0, 10_000.0])
    a, b = 2e-4, -1.5
    returns = np.stack([a * steps + b, 2 * (a * steps + b)])
    x0, x1 = steps[0], steps[-1]
    integral = a / 2 * (x1**2 - x0**2) + b * (x1 - x0)
    np.testing.assert_allclose(metrics.auc(steps, returns), [integral, 2 * integral])


def test_auc_of_a_constant_curve_is_height_times_steps():
    steps = np.linspace(10_000, 2_700_000, 270)
    (value,) = metrics.auc(steps, np.full((1, 270), 0.94))
    assert value == pytest.approx(0.94 * (2_700_000 - 10_000))  # units: return x env steps


def test_auc_of_a_bent_curve_uses_each_segment():
    # two segments by hand: (0+4)/2*2 + (4+4)/2*1 = 4 + 4 = 8
    np.testing.assert_allclose(metrics.auc([0.0, 2.0, 3.0], np.array([[0.0, 4.0, 4.0]])), [8.0])
    np.testing.assert_allclose(metrics.auc([5.0], np.array([[3.0]])), [0.0])


def test_auc_rejects_steps_that_do_not_match():
    with pytest.raises(ValueError, match="steps must be strictly increasing"):
        metrics.auc([0.0, 2.0, 2.0], np.zeros((1, 3)))
    with pytest.raises(ValueError, match="steps must be a 1-d array of the 3 evaluation"):
        metrics.auc([0.0, 1.0], np.zeros((1, 3)))


# ------------------------------------------------------------------------------ gain
def test_gain_divides_by_the_absolute_baseline():
    assert metrics.gain_pct(1.5, 1.0) == pytest.approx(50.0)
    assert metrics.gain_pct(0.5, 1.0) == pytest.approx(-50.0)
    # negative returns (Traffic Junction): less negative is better, so the gain is positive
    assert metrics.gain_pct(-48.2, -54.2) == pytest.approx(6.0 / 54.2 * 100)
    assert metrics.gain_pct(-60.0, -54.2) < 0
    assert np.isnan(metrics.gain_pct(1.0, 0.0))


@pytest.mark.parametrize("env,base", sorted({(e, m) for e, m in paper_table2() if "-" not in m}))
def test_gain_formula_reproduces_the_papers_gain_columns(env, base):
    # an independent check of the shipped CSV and the formula: the paper's gains follow from
    # its rounded means up to rounding (0.2 percentage points)
    baseline, marta = paper_pair(env, base)
    final = metrics.gain_pct(marta.final_return_mean, baseline.final_return_mean)
    auc = metrics.gain_pct(marta.auc_mean, baseline.auc_mean)
    assert final == pytest.approx(marta.final_gain_pct, abs=0.2)
    assert auc == pytest.approx(marta.auc_gain_pct, abs=0.2)
    assert baseline.final_gain_pct is None and baseline.auc_gain_pct is None


def test_paper_table_has_every_table1_setting_and_refuses_unknown_rows():
    pairs = {(e, m) for e, m in paper_table2() if not m.startswith("marta-")}
    assert len(pairs) == 6  # Table 1's six settings
    assert paper_pair("lbf_5x5_1f", "qmix")[1].final_return_mean == 0.94
    with pytest.raises(ValueError, match="valid env/base: .*lbf_5x5_1f/qmix"):
        paper_pair("lbf_5x5_1f", "iql")


# ------------------------------------------------------------------------------ bootstrap
def test_bootstrap_ci_contains_the_mean_and_is_deterministic():
    values = np.array([0.2, 0.9, 0.4, 0.7, 0.5])
    low, high = metrics.bootstrap_ci(values)
    assert low < values.mean() < high
    assert values.min() <= low and high <= values.max()
    assert metrics.bootstrap_ci(values) == (low, high)
    assert metrics.bootstrap_ci(values, seed=1) != (low, high)


def test_bootstrap_ci_of_one_seed_is_a_point_and_of_none_is_nan():
    assert metrics.bootstrap_ci(np.array([3.5])) == (3.5, 3.5)
    assert all(np.isnan(metrics.bootstrap_ci(np.zeros(0))))


def test_bootstrap_ci_shrinks_with_more_seeds_like_the_normal_interval():
    pattern = np.array([0.0, 1.0, 2.0, 3.0])  # same mean and spread, 4 vs 64 seeds
    narrow = metrics.bootstrap_ci(np.tile(pattern, 16))
    wide = metrics.bootstrap_ci(pattern)
    assert narrow[1] - narrow[0] < (wide[1] - wide[0]) / 2
    # for many seeds the bootstrap interval approaches mean ± 1.96 s / sqrt(n)
    half = 1.959964 * pattern.std() / np.sqrt(64)
    assert narrow[0] == pytest.approx(1.5 - half, abs=0.1 * half)
    assert narrow[1] == pytest.approx(1.5 + half, abs=0.1 * half)


def test_bootstrap_ci_confidence_widens_the_interval():
    values = np.linspace(0.0, 1.0, 8)
    low90, high90 = metrics.bootstrap_ci(values, confidence=0.9)
    low99, high99 = metrics.bootstrap_ci(values, confidence=0.99)
    assert low99 < low90 and high90 < high99
    with pytest.raises(ValueError, match="confidence must be in \\(0, 1\\)"):
        metrics.bootstrap_ci(values, confidence=1.0)
    with pytest.raises(ValueError, match="num_resamples must be >= 1"):
        metrics.bootstrap_ci(values, num_resamples=0)


def test_bootstrap_gain_ci_brackets_the_gain_and_keeps_its_sign():
    baseline = np.array([0.50, 0.52, 0.48])
    marta = np.array([0.90, 0.95, 0.85])
    gain = metrics.gain_pct(marta.mean(), baseline.mean())
    low, high = metrics.bootstrap_gain_ci(marta, baseline)
    assert 0 < low < gain < high
    low, high = metrics.bootstrap_gain_ci(baseline, marta)
    assert low < high < 0
    assert all(np.isnan(metrics.bootstrap_gain_ci(marta, np.zeros(0))))
    assert all(np.isnan(metrics.bootstrap_gain_ci(marta, np.zeros(3))))
