"""Reads the output of `marta reproduce` from disk: presets, their runs, and each run's state.

Layout (docs/reproduce.md)::

    OUT/reproduce.json                  budget, presets, wall time, per-run status
    OUT/<preset>/preset.yaml            the preset as resolved for the budget
    OUT/<preset>/<run>/                 a `marta train` run directory (docs/running.md)

Nothing here trains or compiles; a report can be built from any finished, interrupted or
still-running reproduction. A run is **done** when ``checkpoints/latest.json`` holds all of
the config's segments (``train.total_env_steps / train.eval_interval``) and, for fault
runs, ``scorecard.json`` exists; **running** when it has started but is not done; **failed**
when ``reproduce.json`` says so and it is not done; **missing** when its directory holds no
run. A run directory that cannot be read is reported with the reason instead of stopping the
report.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np

from marta.experiments.checkpoint import read_checkpoint_info
from marta.experiments.config import read_yaml
from marta.experiments.plots import load_curves
from marta.reproduce import metrics

RunStatus = Literal["done", "running", "failed", "missing"]
REPRODUCE_FILE = "reproduce.json"
PRESET_FILE = "preset.yaml"
ACTIVATION_MAP_FILE = "activation_map.json"


@dataclasses.dataclass(frozen=True, kw_only=True, eq=False)
class RunResult:
    """What the disk says about one run of a preset."""

    preset: str
    """the preset's name"""
    name: str
    """the run's name (its directory under the preset)"""
    tags: Mapping[str, Any]
    """the preset's tags of the run: ``method`` and the swept value, if any"""
    path: Path
    """the run directory"""
    status: RunStatus
    """done, running, failed or missing (see the module docstring)"""
    note: str = ""
    """why a run is not done (segments reached, unreadable files), which run it copies, or
    ''"""
    target_seeds: int | None = None
    """``num_seeds`` of the run's config (None: no config.yaml)"""
    target_env_steps: int | None = None
    """``train.total_env_steps`` of the run's config"""
    base_seed: int | None = None
    """``seed`` of the run's config (0 where it sets none; None: no readable config.yaml)"""
    steps: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))
    """f[T] env steps of the evaluations every seed has reached"""
    returns: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros((0, 0)))
    """f[num_seeds, T] ``eval_return_mean`` of each seed"""
    scorecard: Mapping[str, Any] | None = None
    """``scorecard.json`` (None until the run finishes)"""
    activation_map: Mapping[str, Any] | None = None
    """``activation_map.json`` (heatmap runs only)"""
    wall_time_s: float | None = None
    """wall time: reproduce.json's, else the sum of the segments' ``wall_time_s``; None for
    a copy of another run (reproduce.json's ``same_as``)"""

    @property
    def method(self) -> str:
        return str(self.tags.get("method", "?"))

    @property
    def num_seeds(self) -> int:
        """Seeds with at least one evaluation."""
        return self.returns.shape[0] if self.steps.size else 0

    @property
    def env_steps(self) -> int:
        """Env steps per seed of the last evaluation every seed has reached (0: none)."""
        return int(self.steps[-1]) if self.steps.size else 0

    @property
    def final_returns(self) -> np.ndarray:
        """f[num_seeds] final test return of each seed (`metrics.final_return`)."""
        return metrics.final_return(self.returns) if self.steps.size else np.zeros(0)

    @property
    def best_returns(self) -> np.ndarray:
        """f[num_seeds] best evaluation of each seed (`metrics.best_return`)."""
        return metrics.best_return(self.returns) if self.steps.size else np.zeros(0)

    @property
    def aucs(self) -> np.ndarray:
        """f[num_seeds] AUC of each seed (`metrics.auc`, return x env steps)."""
        return metrics.auc(self.steps, self.returns) if self.steps.size else np.zeros(0)


@dataclasses.dataclass(frozen=True, kw_only=True, eq=False)
class PresetResult:
    """One preset directory: its resolved preset.yaml and its runs."""

    name: str
    experiment: str
    """table2, cost_sweep, case, p_sweep, heatmap, team_size or budget_sweep"""
    description: str
    paper_row: Mapping[str, str] | None
    """table2 presets: the paper's Table 2 row keys ``{env, base}`` (None: not a paper row)"""
    env_id: str | None = None
    """the environment id of the preset's ``base`` (None: not given)"""
    learner_name: str | None = None
    """the learner of the preset's ``base`` (None: not given)"""
    path: Path
    runs: tuple[RunResult, ...]
    error: str = ""
    """why preset.yaml could not be read ('' when it could)"""


@dataclasses.dataclass(frozen=True, kw_only=True, eq=False)
class Reproduction:
    """Everything under the output directory of `marta reproduce`."""

    out_dir: Path
    budget: str | None
    seed: int | None
    """every run's base seed, where ``marta reproduce --seed`` gave one"""
    overrides: tuple[str, ...]
    """the ``field=value`` items of ``marta reproduce --set`` (empty where none)"""
    marta_version: str | None
    wall_time_s: float | None
    """the sum of the sittings' wall times (``reproduce.json``)"""
    sittings: tuple[Mapping[str, Any], ...]
    """every invocation of `marta reproduce` into the directory (``started``, ``backend``,
    ``workers``, ``wall_time_s``; ``only_last_recorded`` for files from before sittings)"""
    presets: tuple[PresetResult, ...]


def load_reproduction(out_dir: str | Path) -> Reproduction:
    """Reads ``reproduce.json`` (if any) and every ``<preset>/preset.yaml`` with its runs.

    Presets are ordered as ``reproduce.json`` lists them, then any others by name.

    Raises:
        ValueError: `out_dir` is not a directory or holds no ``<preset>/preset.yaml``.
    """
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        raise ValueError(f"{str(out_dir)!r} is not a directory (the --out of marta reproduce)")
    record = _read_json(out_dir / REPRODUCE_FILE) or {}
    found = {p.parent.name for p in out_dir.glob(f"*/{PRESET_FILE}")}
    if not found:
        raise ValueError(
            f"{str(out_dir)!r} holds no <preset>/{PRESET_FILE}; is it the --out of marta reproduce?"
        )
    listed = [name for name in record.get("presets", []) if name in found]
    order = listed + sorted(found - set(listed))
    runs_record = record.get("runs") or {}
    return Reproduction(
        out_dir=out_dir,
        budget=None if record.get("budget") is None else str(record["budget"]),
        seed=record["seed"] if isinstance(record.get("seed"), int) else None,
        overrides=tuple(str(item) for item in record.get("set") or ()),
        marta_version=record.get("marta_version"),
        wall_time_s=_float_or_none(record.get("wall_time_s")),
        sittings=tuple(read_sittings(record)),
        presets=tuple(load_preset(out_dir / name, runs_record) for name in order),
    )


def read_sittings(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The sittings of an existing ``reproduce.json``.

    Files written before sittings were kept hold only the last invocation's ``wall_time_s``:
    it becomes one sitting marked ``"only_last_recorded": true`` (earlier ones are unknown).
    """
    sittings = record.get("sittings")
    if isinstance(sittings, list):
        return [dict(s) for s in sittings if isinstance(s, Mapping)]
    wall = record.get("wall_time_s")
    if isinstance(wall, (int, float)):
        return [{"wall_time_s": float(wall), "only_last_recorded": True}]
    return []


def load_preset(
    preset_dir: str | Path, runs_record: Mapping[str, Any] | None = None
) -> PresetResult:
    """One preset directory; an unreadable preset.yaml gives a preset with no runs and an error.

    Args:
        preset_dir: ``OUT/<preset>``.
        runs_record: ``reproduce.json``'s ``runs`` ({"<preset>/<run>": {"status", ...}}).
    """
    preset_dir = Path(preset_dir)
    try:
        preset = read_yaml(preset_dir / PRESET_FILE)
        specs = preset.get("runs") or []
        if not isinstance(specs, list) or not all(
            isinstance(s, dict) and "name" in s for s in specs
        ):
            raise ValueError(f"{preset_dir / PRESET_FILE}: runs must be a list of {{name, tags}}")
    except ValueError as err:
        return PresetResult(
            name=preset_dir.name,
            experiment="?",
            description="",
            paper_row=None,
            path=preset_dir,
            runs=(),
            error=str(err),
        )
    name = str(preset.get("name", preset_dir.name))
    base = preset.get("base") if isinstance(preset.get("base"), Mapping) else {}
    runs_record = runs_record or {}
    runs = tuple(
        load_run(
            preset_dir / str(spec["name"]),
            preset=name,
            tags=spec.get("tags") or {},
            record=runs_record.get(f"{name}/{spec['name']}") or {},
        )
        for spec in specs
    )
    return PresetResult(
        name=name,
        experiment=str(preset.get("experiment", "?")),
        description=str(preset.get("description", "")),
        paper_row=preset.get("paper_row"),
        env_id=_str_or_none(base.get("env_id")),
        learner_name=_str_or_none(base.get("learner_name")),
        path=preset_dir,
        runs=runs,
    )


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def load_run(
    run_dir: str | Path,
    *,
    preset: str,
    tags: Mapping[str, Any],
    record: Mapping[str, Any] | None = None,
) -> RunResult:
    """The state and evaluation curves of one run directory.

    Args:
        run_dir: ``OUT/<preset>/<run>``.
        preset: the preset's name.
        tags: the preset's tags of this run.
        record: this run's entry of ``reproduce.json`` (``status``, ``wall_time_s``).
    """
    run_dir = Path(run_dir)
    record = record or {}
    base = {"preset": preset, "name": run_dir.name, "tags": dict(tags), "path": run_dir}
    recorded_failed = record.get("status") == "failed"
    started = (run_dir / "config.yaml").exists() or any(run_dir.glob("seed_*/metrics.jsonl"))
    if not started:
        return RunResult(**base, status="failed" if recorded_failed else "missing")
    notes = []
    try:
        config = read_yaml(run_dir / "config.yaml")
        train = config.get("train") or {}
        target_steps = int(train["total_env_steps"])
        num_segments = target_steps // int(train["eval_interval"])
        target_seeds = int(config["num_seeds"])
        has_faults = config.get("marta") is not None
        base_seed = int(config.get("seed", 0))
    except (ValueError, KeyError, TypeError) as err:
        notes.append(f"config.yaml: {err}")
        target_steps = num_segments = target_seeds = base_seed = None
        has_faults = True
    try:
        info = read_checkpoint_info(run_dir / "checkpoints")
        segments_done = 0 if info is None else info.segments_done
    except ValueError as err:
        notes.append(str(err))
        segments_done = 0
    try:
        steps, returns = load_curves(run_dir)
    except ValueError as err:
        notes.append(str(err))
        steps, returns = np.zeros(0), np.zeros((0, 0))
    scorecard = _read_json(run_dir / "scorecard.json")
    # a copy of finished runs without their checkpoints (results/paper/): recorded done, with
    # every seed's evaluation at every segment
    copied_done = (
        not (run_dir / "checkpoints").exists()
        and record.get("status") == "done"
        and returns.shape == (target_seeds, num_segments)
    )
    done = (
        num_segments is not None
        and (segments_done == num_segments or copied_done)
        and (scorecard is not None or not has_faults)
    )
    if not done:
        of = "?" if num_segments is None else num_segments
        notes.insert(0, f"{segments_done}/{of} segments checkpointed")
    wall = _float_or_none(record.get("wall_time_s"))
    if wall is None:
        wall = _metric_sum(run_dir, "wall_time_s")
    if record.get("same_as"):  # its metrics are the source's: no wall time of its own
        notes.append(f"the same config as {record['same_as']}: its results copied")
        wall = None
    return RunResult(
        **base,
        status="done" if done else ("failed" if recorded_failed else "running"),
        note="; ".join(notes),
        target_seeds=target_seeds,
        target_env_steps=target_steps,
        base_seed=base_seed,
        steps=steps,
        returns=returns,
        scorecard=scorecard,
        activation_map=_read_json(run_dir / ACTIVATION_MAP_FILE),
        wall_time_s=wall,
    )


def run_curve(run: RunResult, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """(steps f[T], values f[num_seeds, T]) of another metric of a run; empty if it has none."""
    if not run.steps.size:
        return np.zeros(0), np.zeros((0, 0))
    try:
        return load_curves(run.path, metric)
    except ValueError:
        return np.zeros(0), np.zeros((0, 0))


def _metric_sum(run_dir: Path, metric: str) -> float | None:
    """Sum over segments of a metric logged once per run (seed 0's copy), or None."""
    try:
        steps, values = load_curves(run_dir, metric)
    except ValueError:
        return None
    return float(values[0].sum()) if steps.size else None


def _read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object from `path`; None if the file is missing, unreadable or not an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _float_or_none(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None
