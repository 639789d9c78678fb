"""`marta report OUT`: ``OUT/report.md`` and ``OUT/figures/*.png`` from the run directories.

How to read this file: `write_report` loads everything under ``OUT``
(`marta.reproduce.results.load_reproduction`), draws the figures
(`marta.reproduce.figures.make_figures`), renders Markdown (`render_report`) and writes it
atomically. The report has

* a header: budget, base seed (``--seed``) and overrides (``--set``) if given, marta version,
  total wall time over the sittings (``reproduce.json``), the runs' wall times summed and,
  once every run is done, what those times take in one sitting (`_one_sitting_text`), run
  counts;
* **Table 2** side by side with the paper (`marta.reproduce.paper`): for each ``table2``
  preset a baseline and a MARTA row with final return and AUC (ours mean ± std, the paper's,
  the difference), the gain of MARTA over the baseline (ours and the paper's), and 95%
  bootstrap intervals over seeds (`marta.reproduce.metrics`);
* **Runs**: every run of every preset with its status, seeds, env steps reached, final return,
  AUC and wall time;
* **Scorecard**: the final greedy team's return without faults and under uniform and
  worst-case faults (``scorecard.json``);
* **Figures**: relative links to the PNGs, or why a figure was skipped.

Runs that are missing, running or failed appear as such; the report never waits for them, so
it can be rebuilt at any time (it is also the last step of `marta reproduce`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from marta.experiments.config import load_config
from marta.experiments.io import atomic_write_text
from marta.experiments.table import format_table
from marta.reproduce import metrics
from marta.reproduce.figures import FigureResult, make_figures
from marta.reproduce.paper import PaperResult, paper_pair
from marta.reproduce.results import PresetResult, Reproduction, RunResult, load_reproduction
from marta.reproduce.runs import schedule_time, start_order_key

REPORT_FILE = "report.md"
FIGURES_DIR = "figures"
NONE = "—"
SCORECARD_ROWS = ("no_fault", "uniform", "worst_case")


def write_report(out_dir: Path) -> Path:
    """Writes ``out_dir/report.md`` and ``out_dir/figures/*.png`` from the runs on disk.

    Args:
        out_dir: the ``--out`` directory of `marta reproduce`.

    Returns:
        The path of ``report.md``.

    Raises:
        ValueError: `out_dir` is not a directory or holds no ``<preset>/preset.yaml``.
    """
    out_dir = Path(out_dir)
    reproduction = load_reproduction(out_dir)
    figures = make_figures(reproduction, out_dir / FIGURES_DIR)
    path = out_dir / REPORT_FILE
    atomic_write_text(path, render_report(reproduction, figures))
    return path


def _software_line(reproduction: Reproduction) -> str:
    """The software the runs were made with, from the sittings that recorded it (marta, JAX,
    jaxlib: the same numbers need the same JAX version), sitting numbers shown where they
    differ; reproduce.json's marta version where no sitting recorded it."""
    by_software: dict[str, list[int]] = {}
    for number, sitting in enumerate(reproduction.sittings, start=1):
        by_software.setdefault(str(sitting.get("software") or "not recorded"), []).append(number)
    if set(by_software) <= {"not recorded"}:
        return f"marta {reproduction.marta_version or '?'}"
    if len(by_software) == 1:
        return next(iter(by_software))
    return "software by sitting: " + "; ".join(
        f"{software} (sitting{'s' if len(numbers) > 1 else ''} "
        f"{', '.join(str(n) for n in numbers)})"
        for software, numbers in by_software.items()
    )


def render_report(reproduction: Reproduction, figures: Sequence[FigureResult]) -> str:
    """The Markdown text of the report (figure links relative to the output directory)."""
    runs = [run for preset in reproduction.presets for run in preset.runs]
    counts = {s: sum(r.status == s for r in runs) for s in ("done", "running", "failed", "missing")}
    lines = [
        "# MARTA reproduction report",
        "",
        f"Output directory `{reproduction.out_dir}`; budget `{reproduction.budget or '?'}`; "
        + ("" if reproduction.seed is None else f"base seed {reproduction.seed} (`--seed`); ")
        + (
            f"every run with `--set {' '.join(reproduction.overrides)}`; "
            if reproduction.overrides
            else ""
        )
        + f"{_software_line(reproduction)}.",
        "",
        _wall_time_line(reproduction, runs),
        "",
        f"Runs: {len(runs)} ({', '.join(f'{n} {s}' for s, n in counts.items() if n)}). "
        "Built from the run directories on disk by `marta report`.",
        "",
        "**Metrics** (paper, Supplementary Material): *final return* = mean of a seed's last "
        f"{metrics.FINAL_EVALUATIONS} evaluations, then mean ± std (population) over seeds; "
        "*AUC* = trapezoid of the evaluation return over env steps (return × steps, from the "
        "first to the last evaluation); *gain* = (MARTA − baseline) / |baseline| × 100. "
        "*95% CI*: percentile bootstrap over seeds "
        f"({metrics.NUM_RESAMPLES:,} resamples), which the paper does not report. The paper "
        "used 3 seeds and about 1.2M–2.7M env steps per run: AUCs are comparable only at the "
        "same number of env steps.",
        "",
    ]
    table2 = [p for p in reproduction.presets if p.experiment == "table2"]
    if table2:
        final_rows, auc_rows, notes = _table2_rows(table2)
        lines += ["## Table 2: final return", "", format_table(final_rows, markdown=True), ""]
        lines += ["## Table 2: AUC", "", format_table(auc_rows, markdown=True), ""]
        lines += [f"- {note}" for note in notes] + ([""] if notes else [])
    lines += ["## Runs", "", format_table([_run_row(r) for r in runs], markdown=True), ""]
    scorecards = [_scorecard_row(r) for r in runs if r.scorecard is not None]
    if scorecards:
        lines += [
            "## Scorecard",
            "",
            "Return of the final greedy team (mean ± std over seeds) with no faults and under "
            "uniform and worst-case faults at the evaluation p (`scorecard.json`); *worst vs "
            "no fault*: the worst-case return's change from the no-fault return, in % of the "
            "latter. A team that worst-case faults barely hurt leaves MARTA little to gain in "
            "Case 1.",
            "",
            format_table(scorecards, markdown=True),
            "",
        ]
    lines += _figure_lines(figures, reproduction.out_dir)
    problems = [f"- `{p.name}`: {p.error}" for p in reproduction.presets if p.error]
    if problems:
        lines += ["## Problems", "", *problems, ""]
    return "\n".join(lines).rstrip() + "\n"


# ------------------------------------------------------------------------------ Table 2
def _table2_rows(presets: Sequence[PresetResult]) -> tuple[list[dict], list[dict], list[str]]:
    """Rows of the final-return and AUC tables (baseline then MARTA per preset), and notes."""
    final_rows, auc_rows, notes = [], [], []
    for preset in presets:
        row = preset.paper_row or {}
        paper: tuple = (None, None)
        if preset.paper_row is not None:  # else a preset of one's own: no paper numbers
            try:
                paper = paper_pair(str(row.get("env")), str(row.get("base")))
            except ValueError as err:
                notes.append(f"`{preset.name}`: {err}")
        baseline, marta = (_run_by_method(preset, m) for m in ("baseline", "marta"))
        env = row.get("env", preset.env_id or preset.name)
        base = str(row.get("base", preset.learner_name or "?")).upper()
        for method, run, theirs, is_marta in (
            (base, baseline, paper[0], False),
            (f"MARTA-{base}", marta, paper[1], True),
        ):
            common = {
                "env (preset)": f"{env} (`{preset.name}`)",
                "method": method,
                "status": _status(run),
            }
            seeds = {
                "seeds": NONE if run is None else run.num_seeds,
                "env steps": NONE if run is None else _steps(run),
            }
            for which, rows in (("final", final_rows), ("auc", auc_rows)):
                compared = _compare(
                    _values(run, which),
                    _values(baseline, which) if is_marta else None,
                    _paper_numbers(theirs, which),
                )
                rows.append({**common, **(seeds if which == "final" else {}), **compared})
    return final_rows, auc_rows, notes


def _compare(
    ours: np.ndarray,
    baseline: np.ndarray | None,
    theirs: tuple[float, float, float | None] | None,
) -> dict[str, str]:
    """Ours vs the paper's mean ± std, their difference, gains (MARTA rows) and 95% CIs."""
    mean = metrics.mean_std(ours)[0]
    has_ours = ours.size > 0
    spread, ci = spread_cells(ours)
    cells = {
        "ours (μ ± σ)": spread,
        "ours 95% CI": ci,
        "paper (μ ± σ)": NONE if theirs is None else _pm(theirs[0], theirs[1]),
        "ours − paper": _num(mean - theirs[0]) if has_ours and theirs is not None else NONE,
        "gain % ours": NONE,
        "gain 95% CI": NONE,
        "gain % paper": NONE,
    }
    if baseline is not None:
        cells["gain % ours"], cells["gain 95% CI"] = gain_cells(ours, baseline)
        if theirs is not None and theirs[2] is not None:
            cells["gain % paper"] = _pct(theirs[2])
    return cells


def spread_cells(values: np.ndarray) -> tuple[str, str]:
    """(``mean ± std``, ``[low, high]`` 95% bootstrap CI of the mean) of per-seed values;
    NONE twice when there are none."""
    if not values.size:
        return NONE, NONE
    return _pm(*metrics.mean_std(values)), _ci(metrics.bootstrap_ci(values))


def gain_cells(marta: np.ndarray, baseline: np.ndarray) -> tuple[str, str]:
    """(gain %, its 95% bootstrap CI) of MARTA's seed mean over the baseline's
    (`metrics.gain_pct`, `metrics.bootstrap_gain_ci`); NONE twice if either has no seeds."""
    if not (marta.size and baseline.size):
        return NONE, NONE
    gain = metrics.gain_pct(metrics.mean_std(marta)[0], metrics.mean_std(baseline)[0])
    return _pct(gain), _ci(metrics.bootstrap_gain_ci(marta, baseline), pct=True)


def _paper_numbers(
    theirs: PaperResult | None, which: str
) -> tuple[float, float, float | None] | None:
    """(mean, std, gain %) of a paper row's final return or AUC."""
    if theirs is None:
        return None
    if which == "final":
        return theirs.final_return_mean, theirs.final_return_std, theirs.final_gain_pct
    return theirs.auc_mean, theirs.auc_std, theirs.auc_gain_pct


def _values(run: RunResult | None, which: str) -> np.ndarray:
    if run is None:
        return np.zeros(0)
    return run.final_returns if which == "final" else run.aucs


def _run_by_method(preset: PresetResult, method: str) -> RunResult | None:
    return next((r for r in preset.runs if r.method == method), None)


# ------------------------------------------------------------------------------ other tables
def _run_row(run: RunResult) -> dict[str, str]:
    final_spread, final_ci = spread_cells(run.final_returns)
    return {
        "preset": f"`{run.preset}`",
        "run": run.name,
        "tags": _escape(", ".join(f"{k}={v}" for k, v in run.tags.items())),
        "status": run.status,
        "seeds": f"{run.num_seeds}/{_or_none(run.target_seeds)}",
        "env steps": _steps(run),
        "final return (μ ± σ)": final_spread,
        "95% CI": final_ci,
        "AUC (μ ± σ)": spread_cells(run.aucs)[0],
        "wall time": _duration(run.wall_time_s),
        "note": _escape(run.note) or NONE,
    }


def _scorecard_row(run: RunResult) -> dict[str, str]:
    returns = (run.scorecard or {}).get("returns") or {}
    row = {"preset": f"`{run.preset}`", "run": run.name, "method": run.method}
    for name in SCORECARD_ROWS:
        cell = returns.get(name) or {}
        row[name] = _pm(cell["mean"], cell["std"]) if {"mean", "std"} <= set(cell) else NONE
    row["worst vs no fault %"] = _fault_cost(returns)
    row["fault p"] = _or_none((run.scorecard or {}).get("fault_p"))
    return row


def _fault_cost(returns: dict) -> str:
    """What worst-case faults cost the final team: the worst-case mean's change from the
    no-fault mean in % of the latter (`metrics.gain_pct`); NONE without both columns."""
    means = [(returns.get(name) or {}).get("mean") for name in ("worst_case", "no_fault")]
    return NONE if None in means else _pct(metrics.gain_pct(*means))


def _figure_lines(figures: Sequence[FigureResult], out_dir: Path) -> list[str]:
    if not figures:
        return []
    lines = ["## Figures", ""]
    for figure in figures:
        lines += [f"### {figure.caption}", ""]
        if figure.path is None:
            lines += [f"*Not drawn: {figure.note}.*", ""]
        else:
            lines += [f"![{figure.caption}]({figure.path.relative_to(out_dir).as_posix()})", ""]
    return lines


# ------------------------------------------------------------------------------ formatting
def _status(run: RunResult | None) -> str:
    return "missing (not in preset)" if run is None else run.status


def _steps(run: RunResult) -> str:
    return f"{run.env_steps:,}/{_or_none(run.target_env_steps, '{:,}')}"


def _num(value: float) -> str:
    """Four significant digits; three in scientific notation for large or tiny values."""
    if not np.isfinite(value):
        return "n/a"
    magnitude = abs(value)
    return f"{value:.3g}" if magnitude >= 1e5 or 0 < magnitude < 1e-3 else f"{value:.4g}"


def _pm(mean: float, std: float) -> str:
    """``mean ± std``."""
    return f"{_num(mean)} ± {_num(std)}"


def _pct(value: float) -> str:
    """A signed percentage with one decimal (``+12.4``), ``n/a`` if not finite."""
    return "n/a" if not np.isfinite(value) else f"{value:+.1f}"


def _ci(bounds: tuple[float, float], pct: bool = False) -> str:
    """``[low, high]`` of a confidence interval (of a percentage if `pct`)."""
    fmt = _pct if pct else _num
    return f"[{fmt(bounds[0])}, {fmt(bounds[1])}]"


def _wall_time_line(reproduction: Reproduction, runs: Sequence[RunResult]) -> str:
    """Total wall time over the sittings, and the runs' wall times summed (run-hours)."""
    sittings = reproduction.sittings
    workers = [int(s["workers"]) for s in sittings if s.get("workers") is not None]
    total = _duration(reproduction.wall_time_s)
    if any(s.get("only_last_recorded") for s in sittings):
        text = (
            f"**Wall time**: at least {total} (the marta that wrote this directory kept only "
            "its last sitting's time)"
        )
    else:
        text = f"**Wall time**: {total} in {len(sittings)} sitting"
        text += "s" if len(sittings) != 1 else ""
        if workers:
            text += f" (workers: {', '.join(map(str, workers))})"
    run_times = [r.wall_time_s for r in runs if r.wall_time_s is not None]
    if run_times:
        text += f"; the runs' own wall times add up to {_duration(sum(run_times))}"
    return text + "." + _one_sitting_text(runs, workers[-1] if workers else None)


def _one_sitting_text(runs: Sequence[RunResult], workers: int | None) -> str:
    """What the finished runs' own wall times come to in one sitting on `workers` workers
    (the last sitting's), started in `marta reproduce`'s order (`schedule_time`); '' unless
    every run is done with a readable config and the workers are known."""
    if workers is None or not runs or any(r.status != "done" for r in runs):
        return ""
    timed = []
    for run in runs:
        if run.wall_time_s is None:  # a copy of another run: no time of its own
            continue
        try:
            timed.append((start_order_key(load_config(run.path / "config.yaml")), run.wall_time_s))
        except (OSError, ValueError):
            return ""
    durations = [wall for _, wall in sorted(timed, key=lambda item: item[0])]
    total = schedule_time(durations, workers)
    return (
        f" In one sitting on {workers} workers, started as `marta reproduce` starts them "
        f"(most update work first), runs of these wall times take {_duration(total)} "
        "(list scheduling of the runs' own times; a sitting's start-up is not in it)."
    )


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return NONE
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s"


def _or_none(value: object, fmt: str = "{}") -> str:
    return NONE if value is None else fmt.format(value)


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
