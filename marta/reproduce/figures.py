"""The paper's figures, redrawn from run directories (PNG, matplotlib's Agg canvas, no pyplot).

One figure per preset, chosen by the preset's ``experiment``:

========================  =====================================================================
experiment                figure
========================  =====================================================================
``table2``                Fig. 1: evaluation return vs env steps, baseline and MARTA, mean and
                          95% t-interval band over seeds (`marta.experiments.plots.plot_runs`)
``cost_sweep``            Fig. 2a: final return and switcher activations per episode vs cost c
``case``                  Fig. 2b: final return of Case 1 vs Case 2 (grouped by c if swept)
``p_sweep``               Fig. 3: final return vs fault probability p, both methods
``heatmap``               Fig. 4: switcher activations per visit of each grid cell, drawn on the
                          map (unvisited cells, the junction's walls, in grey)
``team_size``             Fig. 5: final return vs number of agents, both methods
``budget_sweep``          MARTA-B: final return and activations per episode vs budget
========================  =====================================================================

Points are the mean over seeds of the final return (`marta.reproduce.metrics.final_return`,
the mean of the last 5 evaluations); error bars are 95% percentile-bootstrap intervals over
seeds (`marta.reproduce.metrics.bootstrap_ci`). "Activations per episode" is the training
metric ``activations_per_episode`` averaged the same way (last 5 evaluations). Runs without
evaluations are left out; a figure with nothing to draw is skipped with a note.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from marta.experiments.io import atomic_write_with
from marta.experiments.plots import plot_runs
from marta.reproduce import metrics
from marta.reproduce.results import PresetResult, Reproduction, RunResult, run_curve

ACTIVATIONS = "activations_per_episode"


@dataclasses.dataclass(frozen=True, kw_only=True)
class FigureResult:
    """A figure of the report: the PNG written, or why there is none."""

    preset: str
    caption: str
    path: Path | None
    """the PNG, or None when skipped"""
    note: str = ""
    """why the figure was skipped ('' when drawn)"""


def make_figures(reproduction: Reproduction, figures_dir: str | Path) -> list[FigureResult]:
    """Draws the figure of every preset whose experiment has one into `figures_dir`.

    Figures come in the paper's order (Fig. 1, 2a, 2b, 3, 4, 5, budget), then by preset. A
    figure that cannot be drawn (no evaluations yet, unreadable data) gets a note, and a
    PNG left from an earlier report under its name is removed, so the directory matches
    the report.
    """
    figures_dir = Path(figures_dir)
    figures_dir.mkdir(parents=True, exist_ok=True)
    out = []
    for experiment, (prefix, caption, draw) in FIGURES.items():
        for preset in (p for p in reproduction.presets if p.experiment == experiment):
            path = figures_dir / f"{prefix}-{preset.name}.png"
            try:
                note = draw(preset, path)
            except ValueError as err:  # unreadable data in a run directory: report, don't stop
                note = f"could not draw: {err}"
            if note is not None:
                path.unlink(missing_ok=True)
            out.append(
                FigureResult(
                    preset=preset.name,
                    caption=f"{caption} ({preset.name})",
                    path=path if note is None else None,
                    note=note or "",
                )
            )
    return out


# ------------------------------------------------------------------------------ figures
def learning_curves(preset: PresetResult, out: Path) -> str | None:
    """Fig. 1: baseline and MARTA evaluation return vs env steps, 95% CI bands."""
    runs = {method_label(preset, r): r.path for r in preset.runs if r.steps.size}
    if not runs:
        return "no run has an evaluation yet"
    title = preset.description or preset.name
    return None if plot_runs(runs, out, title=_short(title)) is not None else "nothing to draw"


def cost_sweep(preset: PresetResult, out: Path) -> str | None:
    """Fig. 2a: final return and activations per episode vs activation cost c."""
    return _sweep(preset, out, "cost", "activation cost c")


def p_sweep(preset: PresetResult, out: Path) -> str | None:
    """Fig. 3: final return vs fault probability p, baseline and MARTA."""
    return _sweep(preset, out, "p", "fault probability p", activations=False)


def team_size(preset: PresetResult, out: Path) -> str | None:
    """Fig. 5: final return vs number of agents, baseline and MARTA."""
    return _sweep(preset, out, "n_agents", "number of agents", activations=False)


def budget_sweep(preset: PresetResult, out: Path) -> str | None:
    """MARTA-B: final return and activations per episode vs fault budget."""
    return _sweep(preset, out, "budget", "fault budget (activations per episode)")


def case_bars(preset: PresetResult, out: Path) -> str | None:
    """Fig. 2b: final return of Case 1 (aligned) vs Case 2 (shifted), per cost c if swept."""
    runs = [r for r in preset.runs if r.steps.size and "case" in r.tags]
    if not runs:
        return "no run tagged with a case has an evaluation yet"
    groups = sorted({_group(r) for r in runs}, key=_sort_key)
    bars = sorted({(r.method, int(r.tags["case"])) for r in runs})
    fig, (ax,) = _figure(1)
    width = 0.8 / len(bars)
    for i, (method, case) in enumerate(bars):
        cells = {_group(r): r for r in runs if (r.method, int(r.tags["case"])) == (method, case)}
        xs = [j + (i - (len(bars) - 1) / 2) * width for j, g in enumerate(groups) if g in cells]
        mean, low, high = _points([cells[g] for g in groups if g in cells])
        label = f"{_method_name(method)}, Case {case}"
        ax.bar(xs, mean, width, yerr=[mean - low, high - mean], capsize=3, label=label)
    ax.set_xticks(range(len(groups)), [f"c = {g}" if g != "" else "" for g in groups])
    ax.set_ylabel("final return")
    ax.legend(loc="best")
    _finish(fig, _short(preset.description or preset.name), out)
    return None


def activation_heatmap(preset: PresetResult, out: Path) -> str | None:
    """Fig. 4: switcher activations / agent visits of every grid cell, on the map."""
    maps = [(r.name, r.activation_map) for r in preset.runs if r.activation_map is not None]
    if not maps:
        return "no run has activation_map.json (heatmap runs write it at the end)"
    from matplotlib import colormaps

    fig, axes = _figure(len(maps), width=4.4)
    cmap = colormaps["viridis"].with_extremes(bad="0.55")
    for ax, (name, data) in zip(axes, maps, strict=True):
        counts, visits = _activation_arrays(data)
        rate = np.ma.masked_where(visits == 0, counts / np.maximum(visits, 1))
        image = ax.imshow(rate, cmap=cmap, origin="upper", interpolation="nearest")
        ax.set_xticks(np.arange(-0.5, visits.shape[1]), minor=True)
        ax.set_yticks(np.arange(-0.5, visits.shape[0]), minor=True)
        ax.grid(which="minor", color="white", linewidth=0.3)
        ax.tick_params(which="minor", length=0)
        ax.set_title(f"{name}: {int(counts.sum())} activations")
        fig.colorbar(image, ax=ax, shrink=0.8, label="activations per visit")
    fig.suptitle("switcher activations (grey: cells no agent visited)", fontsize=10)
    _save(fig, out)
    return None


#: experiment -> (file prefix, caption, draw(preset, out) -> None or why it was skipped)
FIGURES: dict[str, tuple[str, str, Callable[[PresetResult, Path], str | None]]] = {
    "table2": ("fig1", "Fig. 1: learning curves, 95% CI bands", learning_curves),
    "cost_sweep": ("fig2a", "Fig. 2a: activation cost sweep", cost_sweep),
    "case": ("fig2b", "Fig. 2b: Case 1 vs Case 2", case_bars),
    "p_sweep": ("fig3", "Fig. 3: fault probability sweep", p_sweep),
    "heatmap": ("fig4", "Fig. 4: switcher activation heatmap", activation_heatmap),
    "team_size": ("fig5", "Fig. 5: team size", team_size),
    "budget_sweep": ("budget", "MARTA-B: fault budget sweep", budget_sweep),
}


# ------------------------------------------------------------------------------ helpers
def method_label(preset: PresetResult, run: RunResult) -> str:
    """Legend label of a run: the paper's method name (``QMIX``, ``MARTA-QMIX``) or the run's."""
    base = (preset.paper_row or {}).get("base")
    if preset.experiment == "table2":  # a Table 2 row of one's own has no paper_row
        base = base or preset.learner_name
    if base and run.method in ("baseline", "marta"):
        return base.upper() if run.method == "baseline" else f"MARTA-{base.upper()}"
    return run.name


def _sweep(
    preset: PresetResult, out: Path, tag: str, xlabel: str, *, activations: bool = True
) -> str | None:
    """Final return (and activations per episode) vs a swept tag, one line per method; the
    swept values evenly spaced and named (c = 0, 0.01, 0.05, ... would crowd a linear axis),
    and a note in the title while some runs are unfinished (their last 5 evaluations so far)."""
    runs = [r for r in preset.runs if r.steps.size and tag in r.tags]
    if not runs:
        return f"no run tagged with {tag!r} has an evaluation yet"
    swept = sorted({float(r.tags[tag]) for r in runs})
    panels = [("final return", lambda r: r.final_returns)]
    if activations and any(run_curve(r, ACTIVATIONS)[0].size for r in runs):
        panels.append(("activations per episode (training)", _final_activations))
    fig, axes = _figure(len(panels))
    for ax, (ylabel, values) in zip(axes, panels, strict=True):
        for method in sorted({r.method for r in runs}):
            line = sorted((r for r in runs if r.method == method), key=lambda r: float(r.tags[tag]))
            xs = [swept.index(float(r.tags[tag])) for r in line]
            mean, low, high = _points(line, values)
            yerr = [mean - low, high - mean]
            ax.errorbar(xs, mean, yerr=yerr, marker="o", capsize=3, label=_method_name(method))
        ax.set_xticks(range(len(swept)), [f"{value:g}" for value in swept])
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.legend(loc="best")
    title = _short(preset.description or preset.name)
    unfinished = sum(r.status != "done" for r in runs)
    if unfinished:
        title += f"\n({unfinished} of {len(runs)} runs unfinished: their evaluations so far)"
    _finish(fig, title, out)
    return None


def _final_activations(run: RunResult) -> np.ndarray:
    """f[num_seeds] activations per episode, averaged over the last 5 evaluations."""
    steps, values = run_curve(run, ACTIVATIONS)
    return metrics.final_return(values) if steps.size else np.zeros(0)


def _points(
    runs: Sequence[RunResult], values: Callable[[RunResult], np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, low, high) over seeds of each run's per-seed values (default: final return)."""
    rows = []
    for run in runs:
        per_seed = run.final_returns if values is None else values(run)
        rows.append((metrics.mean_std(per_seed)[0], *metrics.bootstrap_ci(per_seed)))
    mean, low, high = np.array(rows, dtype=float).reshape(-1, 3).T
    return mean, low, high


def _activation_arrays(data: Any) -> tuple[np.ndarray, np.ndarray]:
    counts = np.asarray(data.get("counts", []), dtype=float)
    visits = np.asarray(data.get("visits", np.ones_like(counts)), dtype=float)
    if counts.ndim != 2 or counts.shape != visits.shape:
        raise ValueError(
            f"activation_map.json: counts and visits must be 2-d arrays of one shape, got "
            f"{counts.shape} and {visits.shape}"
        )
    return counts, visits


def _group(run: RunResult) -> Any:
    return run.tags.get("cost", "")


def _sort_key(value: Any) -> tuple[int, Any]:
    return (0, float(value)) if isinstance(value, int | float) else (1, str(value))


def _method_name(method: str) -> str:
    return {"marta": "MARTA", "baseline": "baseline"}.get(method, method)


def _short(text: str, limit: int = 70) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _figure(ncols: int, width: float = 5.2) -> tuple[Any, list[Any]]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * ncols, 4.0), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, list(np.atleast_1d(fig.subplots(1, ncols, squeeze=False)[0]))


def _finish(fig: Any, title: str, out: Path) -> None:
    for axis in fig.axes:
        axis.grid(alpha=0.3)
    fig.suptitle(title, fontsize=10)
    _save(fig, out)


def _save(fig: Any, out: Path) -> None:
    atomic_write_with(out, lambda f: fig.savefig(f, format="png", dpi=100))
