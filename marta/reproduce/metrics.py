"""The paper's summary metrics of a learning curve, plus bootstrap confidence intervals.

Definitions (MARTA paper, Supplementary Material, "Further Analysis of Experimental Results",
which defines the columns of Table 2):

* **Final test return**: "We average the test return from the last 5 evaluation checkpoints
  for each seed, and report the mean ± standard deviation across seeds" (`final_return`,
  `mean_std`).
* **AUC**: "the AUC over the test return curve for each seed" (`auc`): the trapezoid rule over
  environment steps, so its unit is return x env steps (Table 2's LBF AUC 2.55e6 is a return
  near 0.94 over roughly 2.7M steps).
* **Gain (%)**: "(MARTA - Baseline)/|Baseline| x 100" (`gain_pct`), for both metrics.

The main text's Evaluation Protocol says instead "The best-performing checkpoint is reported
based on average return"; `best_return` is that rule (each seed's highest evaluation), for
comparison. It is biased upwards by evaluation noise (a maximum over noisy estimates), more
so for noisier curves, so Table 2 uses the supplementary's last-5 average.

The paper gives no uncertainty beyond ± std over 3 seeds. `bootstrap_ci` and
`bootstrap_gain_ci` add 95% percentile-bootstrap intervals over seeds, the estimator rliable
(Agarwal et al., 2021, "Deep RL at the Edge of the Statistical Precipice") uses; with a single
task its stratified bootstrap is the plain bootstrap over runs used here.

Choices the paper leaves open (documented in docs/reproduce.md):

* std is the population standard deviation (``ddof=0``, NumPy's default and the one
  ``scorecard.json`` uses);
* a curve with fewer than 5 evaluations averages all of them;
* the AUC integrates from the first to the last evaluation (no point at step 0 is invented).

All functions are pure NumPy; the bootstrap takes an explicit seed, so reports are
reproducible.
"""

from __future__ import annotations

import numpy as np

from marta.validation import require

#: evaluations averaged by the final return (the paper's "last 5 evaluation checkpoints")
FINAL_EVALUATIONS = 5
#: bootstrap resamples; rliable's default is 50,000 for aggregates over many tasks, 10,000
#: keeps the percentile endpoints stable to about 0.5% of the spread for 3-10 seeds
NUM_RESAMPLES = 10_000


def final_return(returns: np.ndarray, last: int = FINAL_EVALUATIONS) -> np.ndarray:
    """Final test return of each seed: the mean of its last `last` evaluations.

    Args:
        returns: f[num_seeds, T] evaluation returns (``eval_return_mean``) in step order.
        last: evaluations averaged (the paper uses 5); fewer available means all of them.

    Returns:
        f[num_seeds]; empty when T == 0.
    """
    require(last >= 1, "last", ">= 1", last)
    returns = _curves(returns)
    if returns.shape[1] == 0:
        return np.zeros(0)
    return returns[:, -last:].mean(axis=1)


def best_return(returns: np.ndarray) -> np.ndarray:
    """Best test return of each seed: its highest evaluation (the paper's "best-performing
    checkpoint", Experiment Configurations, Evaluation Protocol).

    Args:
        returns: f[num_seeds, T] evaluation returns.

    Returns:
        f[num_seeds]; empty when T == 0.
    """
    returns = _curves(returns)
    if returns.shape[1] == 0:
        return np.zeros(0)
    return returns.max(axis=1)


def auc(steps: np.ndarray, returns: np.ndarray) -> np.ndarray:
    """Area under each seed's evaluation curve, by the trapezoid rule over env steps.

    .. math:: \\mathrm{AUC} = \\sum_{t=1}^{T-1} \\tfrac{1}{2}(y_{t-1} + y_t)(x_t - x_{t-1})

    Args:
        steps: f[T] environment steps of the evaluations, increasing.
        returns: f[num_seeds, T] evaluation returns.

    Returns:
        f[num_seeds] in return x env steps; zeros for a single evaluation, empty for none.
    """
    steps = np.asarray(steps, dtype=float)
    returns = _curves(returns)
    require(
        steps.ndim == 1 and steps.shape[0] == returns.shape[1],
        "steps",
        f"a 1-d array of the {returns.shape[1]} evaluation steps",
        steps.shape,
    )
    require(bool(np.all(np.diff(steps) > 0)), "steps", "strictly increasing", steps)
    if returns.shape[1] == 0:
        return np.zeros(0)
    widths = np.diff(steps)
    heights = (returns[:, 1:] + returns[:, :-1]) / 2
    return (heights * widths).sum(axis=1)


def mean_std(values: np.ndarray) -> tuple[float, float]:
    """Mean and population standard deviation over seeds (NaN, NaN for no seeds)."""
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return float("nan"), float("nan")
    return float(values.mean()), float(values.std())


def gain_pct(marta: float, baseline: float) -> float:
    """Relative gain of MARTA over its baseline, in percent.

    .. math:: \\mathrm{gain} = \\frac{\\mathrm{MARTA} - \\mathrm{Baseline}}{|\\mathrm{Baseline}|}
        \\times 100

    Dividing by the absolute value keeps the sign meaningful for negative returns (Traffic
    Junction): a positive gain always means MARTA is better. NaN when the baseline is 0.
    """
    marta, baseline = float(marta), float(baseline)
    if baseline == 0 or not np.isfinite(baseline):
        return float("nan")
    return (marta - baseline) / abs(baseline) * 100.0


def bootstrap_ci(
    values: np.ndarray,
    *,
    confidence: float = 0.95,
    num_resamples: int = NUM_RESAMPLES,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile-bootstrap confidence interval of the mean over seeds.

    Resamples the seeds with replacement `num_resamples` times and returns the
    ``(1 - confidence)/2`` and ``(1 + confidence)/2`` quantiles of the resampled means.

    Args:
        values: f[num_seeds] one number per seed (e.g. `final_return`).
        confidence: coverage of the interval, in (0, 1).
        num_resamples: bootstrap resamples.
        seed: seed of the resampling (NumPy ``default_rng``).

    Returns:
        (low, high); (v, v) for a single seed, (NaN, NaN) for none.
    """
    _check_bootstrap(confidence, num_resamples)
    values = np.asarray(values, dtype=float).reshape(-1)
    if values.size == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    resampled = values[rng.integers(0, values.size, size=(num_resamples, values.size))]
    return _percentiles(resampled.mean(axis=1), confidence)


def bootstrap_gain_ci(
    marta: np.ndarray,
    baseline: np.ndarray,
    *,
    confidence: float = 0.95,
    num_resamples: int = NUM_RESAMPLES,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile-bootstrap interval of `gain_pct` of the seed means.

    The seeds of each method are resampled independently (the runs are independent), the
    gain of the two resampled means is computed, and its quantiles are returned. Resamples
    whose baseline mean is 0 are dropped.

    Args:
        marta: f[num_seeds_marta] one number per MARTA seed.
        baseline: f[num_seeds_baseline] one number per baseline seed.

    Returns:
        (low, high) in percent; (NaN, NaN) when either side has no seeds.
    """
    _check_bootstrap(confidence, num_resamples)
    marta = np.asarray(marta, dtype=float).reshape(-1)
    baseline = np.asarray(baseline, dtype=float).reshape(-1)
    if marta.size == 0 or baseline.size == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    m = marta[rng.integers(0, marta.size, size=(num_resamples, marta.size))].mean(axis=1)
    b = baseline[rng.integers(0, baseline.size, size=(num_resamples, baseline.size))].mean(1)
    keep = b != 0
    if not keep.any():
        return float("nan"), float("nan")
    gains = (m[keep] - b[keep]) / np.abs(b[keep]) * 100.0
    return _percentiles(gains, confidence)


def _curves(returns: np.ndarray) -> np.ndarray:
    returns = np.asarray(returns, dtype=float)
    require(returns.ndim == 2, "returns", "a 2-d array [num_seeds, T]", returns.shape)
    return returns


def _check_bootstrap(confidence: float, num_resamples: int) -> None:
    require(0 < confidence < 1, "confidence", "in (0, 1)", confidence)
    require(num_resamples >= 1, "num_resamples", ">= 1", num_resamples)


def _percentiles(stats: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(stats, [tail, 100 - tail])
    return float(low), float(high)
