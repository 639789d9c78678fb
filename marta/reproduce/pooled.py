"""MARTA against its baseline over seeds pooled from several runs of the same configs.

A replicate of a Table 2 row (the same two configs with another ``--seed``) is a second pair
of run directories; `pooled_comparison` pools every directory's seeds per method and gives,
for the final return, the AUC, the best evaluation and each scorecard column, mean ± std
over the pooled seeds, the 95% bootstrap CI of the mean, and MARTA's gain over the baseline
with its bootstrap CI (the paper's metrics, `marta.reproduce.metrics`). `marta gain` prints it:

    marta gain --baseline results/paper/table2-mpe-maddpg/baseline \\
        results/mpe-maddpg-seed3/baseline --marta results/paper/table2-mpe-maddpg/marta \\
        results/mpe-switcher-reward-scale/maddpg/seed3

Whole replicates of a reproduction (``marta reproduce ... --seed 3``) pool row by row with
`pooled_table2` (``marta gain --outputs runs/fast runs/fast-s3``). Directories with the same
base seed are refused: their seeds would be counted twice. Directories of one method whose
configs differ in more than the seed are pooled with a `PooledConfigWarning` naming the fields
(e.g. a replicate run before a preset changed), and `pooled_table2` leaves out a row that is
not finished in every output (a replicate still running) with an `UnfinishedRowWarning`:
`marta gain` prints both.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from marta.experiments.config import config_differences, load_config
from marta.reproduce.report import NONE, gain_cells, spread_cells
from marta.reproduce.results import RunResult, load_reproduction, load_run

#: the metrics of the paper's Table 2 (`pooled_table2`)
TABLE2_METRICS = ("final return", "AUC", "best evaluation")


class PoolingWarning(UserWarning):
    """Something `marta gain` should say about what it pooled."""


class PooledConfigWarning(PoolingWarning):
    """Directories pooled as one method's seeds hold different configs (besides the seed)."""


class UnfinishedRowWarning(PoolingWarning):
    """A Table 2 row left out of `pooled_table2`: some output has not finished its runs."""


def pooled_comparison(
    baseline_dirs: Sequence[str | Path],
    marta_dirs: Sequence[str | Path],
    *,
    metrics: Sequence[str] | None = None,
) -> list[dict[str, str]]:
    """Rows (metric, method, seeds, μ ± σ, 95% CI, gain %, gain 95% CI) over pooled seeds.

    Final return, AUC and best evaluation come from each seed's evaluation curve; the
    scorecard rows from ``scorecard.json`` (only the columns every run has). `metrics` keeps
    only those rows.

    Raises:
        ValueError: a method has no run directory, a directory has no evaluations, two of a
            method's directories have the same base seed, or the runs end at different env
            steps (their AUCs would not be comparable).
    """
    runs = {"baseline": _load(baseline_dirs, "baseline"), "marta": _load(marta_dirs, "marta")}
    ends = {r.path: float(r.steps[-1]) for rs in runs.values() for r in rs}
    if len(set(ends.values())) > 1:
        listed = ", ".join(f"{path}: {steps:,.0f}" for path, steps in ends.items())
        raise ValueError(f"the runs end at different env steps ({listed}); pool equal runs")
    columns = _common_scorecard_columns([r for rs in runs.values() for r in rs])
    values = {method: _pooled_metrics(rs, columns) for method, rs in runs.items()}
    rows = []
    for metric, base in values["baseline"].items():
        if metrics is not None and metric not in metrics:
            continue
        marta = values["marta"][metric]
        gain, gain_ci = gain_cells(marta, base)
        for method, pooled in (("baseline", base), ("marta", marta)):
            spread, ci = spread_cells(pooled)
            rows.append(
                {
                    "metric": metric,
                    "method": method,
                    "seeds": str(pooled.size),
                    "μ ± σ": spread,
                    "95% CI": ci,
                    "gain %": gain if method == "marta" else NONE,
                    "gain 95% CI": gain_ci if method == "marta" else NONE,
                }
            )
    return rows


def pooled_table2(out_dirs: Sequence[str | Path]) -> list[dict[str, str]]:
    """`pooled_comparison` of final return, AUC and best evaluation for every ``table2``
    preset that each of the reproduction outputs `out_dirs` holds with all its runs done, the
    rows led by the preset's name; a preset some output holds unfinished is left out with an
    `UnfinishedRowWarning`.

    Raises:
        ValueError: fewer than one output, outputs of different budgets, no ``table2``
            preset finished in all of them, or what `pooled_comparison` refuses.
    """
    if not out_dirs:
        raise ValueError("--outputs needs at least one marta reproduce output directory")
    reproductions = [load_reproduction(d) for d in out_dirs]
    budgets = {str(r.out_dir): r.budget for r in reproductions}
    if len(set(budgets.values())) > 1:
        listed = ", ".join(f"{d}: {b}" for d, b in budgets.items())
        raise ValueError(f"the outputs are of different budgets ({listed}); pool replicates")
    by_name = [{p.name: p for p in r.presets if p.experiment == "table2"} for r in reproductions]
    names = []
    for name in (n for n in by_name[0] if all(n in presets for presets in by_name[1:])):
        unfinished = [
            f"{run.path} ({run.status})"
            for presets in by_name
            for run in presets[name].runs
            if run.status != "done"
        ]
        if unfinished:
            warnings.warn(
                f"{name} left out: not done in {', '.join(unfinished)}",
                UnfinishedRowWarning,
                stacklevel=2,
            )
        else:
            names.append(name)
    if not names:
        raise ValueError(f"no table2 preset is finished in every one of {', '.join(budgets)}")
    rows = []
    for name in names:
        runs = [run for presets in by_name for run in presets[name].runs]
        dirs = {m: [r.path for r in runs if r.method == m] for m in ("baseline", "marta")}
        comparison = pooled_comparison(dirs["baseline"], dirs["marta"], metrics=TABLE2_METRICS)
        rows += [{"preset": name, **row} for row in comparison]
    return rows


def _load(dirs: Sequence[str | Path], method: str) -> list[RunResult]:
    if not dirs:
        raise ValueError(f"--{method} needs at least one run directory")
    runs = []
    seen: dict[int, str] = {}
    for d in dirs:
        if not Path(d).is_dir():
            raise ValueError(f"--{method}: {str(d)!r} is not a run directory")
        run = load_run(d, preset="", tags={"method": method})
        if run.base_seed in seen:
            raise ValueError(
                f"--{method}: {str(d)!r} and {seen[run.base_seed]!r} both have base seed "
                f"{run.base_seed}; pooling them would count the same seeds twice"
            )
        if run.base_seed is not None:
            seen[run.base_seed] = str(d)
        if not run.steps.size:
            raise ValueError(f"--{method}: {str(d)!r} has no evaluations (seed_*/metrics.jsonl)")
        runs.append(run)
    _warn_if_configs_differ(runs, method)
    return runs


def _warn_if_configs_differ(runs: Sequence[RunResult], method: str) -> None:
    """A `PooledConfigWarning` for each run whose config differs from the first's besides
    the seed; runs without a readable config.yaml are not compared."""
    configs = []
    for run in runs:
        try:
            configs.append((run.path, load_config(run.path / "config.yaml")))
        except (OSError, ValueError):
            continue
    for path, config in configs[1:]:
        fields = [f for f in config_differences(configs[0][1], config) if f != "seed"]
        if fields:
            warnings.warn(
                f"--{method}: {str(path)!r} and {str(configs[0][0])!r} differ in "
                f"{', '.join(fields)} (besides the seed); their seeds are pooled anyway",
                PooledConfigWarning,
                stacklevel=3,
            )


def _pooled_metrics(runs: Sequence[RunResult], columns: Sequence[str]) -> dict[str, np.ndarray]:
    """Metric name -> the values of every seed of `runs`, concatenated."""
    return {
        "final return": _pool(r.final_returns for r in runs),
        "AUC": _pool(r.aucs for r in runs),
        "best evaluation": _pool(r.best_returns for r in runs),
        **{f"scorecard {c}": _pool(_scorecard(r, c) for r in runs) for c in columns},
    }


def _pool(arrays: Iterable[np.ndarray]) -> np.ndarray:
    return np.concatenate([np.asarray(a, dtype=float).reshape(-1) for a in arrays])


def _scorecard(run: RunResult, column: str) -> np.ndarray:
    return np.asarray((run.scorecard or {})["returns"][column]["per_seed"], dtype=float)


def _common_scorecard_columns(runs: Sequence[RunResult]) -> list[str]:
    """Scorecard columns present in every run, in the first run's order."""
    columns = [list((r.scorecard or {}).get("returns") or {}) for r in runs]
    return [c for c in columns[0] if all(c in cs for cs in columns[1:])]
