"""Learning curves of a run directory: mean and 95% confidence interval over seeds.

Reads only ``seed_<k>/metrics.jsonl`` (and ``config.yaml`` for the title), so any finished or
interrupted run can be re-plotted. Uses matplotlib's Agg canvas directly (no pyplot, no global
backend switch), and writes ``curves.png`` atomically.

The interval at each evaluation is Student's t interval of the mean over the n seeds,
:math:`\\bar y \\pm t_{0.975,\\,n-1}\\, s / \\sqrt{n}` with the sample standard deviation
:math:`s`; with one seed only the mean is drawn.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import yaml

from marta.experiments.io import atomic_write_with, read_jsonl

#: two-sided 95% Student-t quantiles t_{0.975, df} for df = 1..30 (standard tables)
_T975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip
_Z975 = 1.959964


def t_quantile_975(df: int) -> float:
    """Two-sided 95% Student-t quantile; a table up to 30 degrees of freedom, then the
    Cornish-Fisher expansion :math:`z + (z^3+z)/(4\\nu) + (5z^5+16z^3+3z)/(96\\nu^2)`."""
    if df < 1:
        raise ValueError(f"df must be >= 1, got {df}")
    if df <= len(_T975):
        return _T975[df - 1]
    z = _Z975
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


def mean_ci(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and 95% t-interval over seeds.

    Args:
        values: f[num_seeds, T].

    Returns:
        (mean, low, high), each f[T]; low == high == mean for a single seed.
    """
    values = np.asarray(values, dtype=float)
    mean = values.mean(axis=0)
    n = values.shape[0]
    if n < 2:
        return mean, mean, mean
    half = t_quantile_975(n - 1) * values.std(axis=0, ddof=1) / np.sqrt(n)
    return mean, mean - half, mean + half


def load_curves(
    run_dir: str | Path, metric: str = "eval_return_mean", x: str = "env_steps"
) -> tuple[np.ndarray, np.ndarray]:
    """A metric of every seed, aligned on the evaluations all seeds have reached.

    Returns:
        (x f[T], values f[num_seeds, T]); T = 0 when some seed has no line yet.

    Raises:
        ValueError: seeds disagree on the x values, or the metric is missing.
    """
    run_dir = Path(run_dir)
    seed_dirs = sorted(
        (p for p in run_dir.glob("seed_*") if re.fullmatch(r"seed_\d+", p.name)),
        key=lambda p: int(p.name.split("_")[1]),
    )
    runs = [read_jsonl(p / "metrics.jsonl") for p in seed_dirs]
    if not runs:
        return np.zeros(0), np.zeros((0, 0))
    length = min(len(r) for r in runs)
    xs = np.array([[rec.get(x, rec.get("segment")) for rec in r[:length]] for r in runs], float)
    if length and not (xs == xs[0]).all():
        raise ValueError(f"seeds of {run_dir} disagree on {x}")
    try:
        ys = np.array([[rec[metric] for rec in r[:length]] for r in runs], dtype=float)
    except KeyError:
        raise ValueError(f"metric {metric!r} missing from the metrics of {run_dir}") from None
    return (xs[0] if length else np.zeros(0)), ys.reshape(len(runs), length)


def plot_curves(
    run_dir: str | Path,
    out: str | Path | None = None,
    metric: str = "eval_return_mean",
) -> Path | None:
    """Draws `metric` against env steps (mean and 95% CI over seeds) to ``curves.png``.

    Returns:
        The image path, or None when there is nothing to draw yet.
    """
    run_dir = Path(run_dir)
    out = Path(out) if out is not None else run_dir / "curves.png"
    return plot_runs({"mean": run_dir}, out, metric, title=_title(run_dir))


def plot_runs(
    runs: Mapping[str, str | Path],
    out: str | Path,
    metric: str = "eval_return_mean",
    title: str = "",
) -> Path | None:
    """Draws `metric` of several runs on one axis: per run the mean and its 95% CI band.

    Args:
        runs: legend label -> run directory.
        out: PNG path (written atomically).
        metric: a key of the runs' metrics.jsonl.
        title: figure title; the number of seeds is appended.

    Returns:
        The image path, or None when no run has an evaluation yet.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    curves = {label: load_curves(run_dir, metric) for label, run_dir in runs.items()}
    curves = {label: c for label, c in curves.items() if c[0].size}
    if not curves:
        return None
    fig = Figure(figsize=(6.4, 4.2))
    fig.subplots_adjust(left=0.13, right=0.97, bottom=0.12, top=0.88)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    seeds = set()
    for label, (steps, values) in curves.items():
        mean, low, high = mean_ci(values)
        (line,) = ax.plot(steps, mean, marker="." if steps.size < 30 else None, label=label)
        if values.shape[0] > 1:
            ax.fill_between(steps, low, high, alpha=0.25, color=line.get_color())
        seeds.add(values.shape[0])
    ax.set_xlabel("environment steps")
    ax.set_ylabel(metric)
    n = "/".join(str(k) for k in sorted(seeds))
    band = ", band: 95% CI" if max(seeds) > 1 else ""
    full = f"{title} ({n} seed{'s' * (max(seeds) > 1)}{band})"
    ax.set_title(textwrap.fill(full, 70), fontsize=10 if len(full) > 60 else None)
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    out = Path(out)
    atomic_write_with(out, lambda f: fig.savefig(f, format="png", dpi=100))
    return out


def _title(run_dir: Path) -> str:
    try:
        config = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8")) or {}
        return f"{config.get('env_id', '?')} / {config.get('learner_name', '?')}"
    except (OSError, yaml.YAMLError, AttributeError):
        return run_dir.name
