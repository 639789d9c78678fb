"""What both backends of `marta reproduce` share: the plan, each run's state, reproduce.json,
and the body that executes one run.

How to read this file:

1. `plan_runs` resolves every run of the chosen presets for a budget into a `RunSpec`
   (validated `ExperimentConfig`, run directory ``OUT/<preset>/<run>``).
2. `inspect_run` says what the directory of a run holds: ``done`` (all segments checkpointed,
   or all segments' metrics of a run kept without its checkpoints as in results/, and for
   fault-injection runs ``scorecard.json`` written), ``resume`` (a run of this
   config that stopped early), ``fresh`` (nothing yet), ``redo`` (all segments but no
   scorecard: restarted from scratch), or ``conflict`` (a run of another config: refused
   unless ``--force``).
3. `StatusFile` keeps ``OUT/reproduce.json`` (written atomically, by the parent only).
4. `plan_copies`: runs of the plan with the same config (every field but the run's
   location: e.g. Fig. 4's run is Fig. 2a's c = 0, and Fig. 5's 4 agents are Table 2's LBF
   QMIX row) run once; the others get a copy of its results when it finishes (`copy_run`):
   the same config and seed give the same numbers.
5. `reproduce` checks the output directory (runs of another config are refused unless
   ``force``), writes each ``OUT/<preset>/preset.yaml``, skips finished runs and hands the
   others to a backend (`marta.reproduce.local` or `marta.reproduce.ray_backend`), recording
   each result as it arrives.
6. `execute_run` is what a local worker process or a Ray task runs for one run: one XLA
   thread, the persistent compilation cache, an exclusive lock on the run directory, then
   `marta.experiments.runner.run_experiment` (``resume=True`` from its checkpoint,
   ``force=True`` for ``redo``/``conflict`` under ``--force``). It returns a plain dict, so
   it crosses process (and Ray) boundaries unchanged.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import json
import os
import shutil
import socket
import sys
import time
import traceback
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import marta
import marta.envs
from marta.experiments.compile_cache import enable_compile_cache
from marta.experiments.config import (
    LOCATION_FIELDS,
    ExperimentConfig,
    config_differences,
    load_config,
    merge,
    parse_overrides,
    software_versions,
)
from marta.experiments.io import atomic_write_text, check_writable
from marta.plugins import load_plugins, loaded_plugins
from marta.reproduce.presets import Preset, has_switcher, resolve_config, without_switcher
from marta.reproduce.results import read_sittings

RunAction = Literal["done", "resume", "fresh", "redo", "conflict"]
#: XLA on one thread: a worker process owns one core (faster than sharing both)
SINGLE_THREAD_XLA_FLAGS = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
Backend = Literal["local", "ray"]
STATUS_FILE = "reproduce.json"
PRESET_FILE = "preset.yaml"
#: JAX's persistent compilation cache, by default under OUT: a resumed or retried run, and
#: runs compiling the same program, load the compiled programs instead of compiling again
CACHE_DIR = ".jax-cache"
LOG_FILE = "reproduce.log"
LOCK_FILE = ".reproduce.lock"


@dataclasses.dataclass(frozen=True, kw_only=True)
class RunSpec:
    """One run of the plan: where it goes and its resolved config."""

    preset: str
    """the preset's name"""
    run: str
    """the run's name (its directory under the preset)"""
    config: ExperimentConfig
    """the resolved, validated config"""

    @property
    def key(self) -> str:
        """``<preset>/<run>``: the run's key in reproduce.json and its path under OUT."""
        return f"{self.preset}/{self.run}"


@dataclasses.dataclass(frozen=True, kw_only=True)
class RunState:
    """What a run directory holds, and what running it means."""

    action: RunAction
    """done, resume, fresh, redo or conflict (see the module docstring)"""
    differences: tuple[str, ...] = ()
    """conflict: the config fields that differ"""


def update_work(config: ExperimentConfig) -> tuple[int, int]:
    """A run's expected cost, to start the longest runs first: (agent-steps its learner's
    updates put through the agent network, whether it trains a Switcher).

    The updates are nearly all of a run's time (BENCHMARKS.md, "Where training time goes"),
    and an update's time grows with its padded batch: seeds x batch x (max_steps + 1) x
    agents, times ``total_env_steps / (num_envs * rollout_steps) * updates_per_rollout``
    updates. A run with a Switcher also updates it, so it breaks ties. The estimate ignores
    the batch cut (`learner.length_buckets`), which makes runs with short episodes cheaper
    than it says (BENCHMARKS.md, "Table 2 in 4 hours?", compares it with measured times).
    """
    env = marta.envs.make(config.env_id, **config.env_kwargs)
    train = config.train
    updates = train.total_env_steps // (train.num_envs * train.rollout_steps)
    per_update = config.learner.batch_size * (env.max_steps + 1) * env.num_agents
    work = config.num_seeds * updates * train.updates_per_rollout * per_update
    return work, int(config.marta is not None and config.marta.uses_switcher)


def start_order_key(config: ExperimentConfig) -> list[int]:
    """Sort key of the order `marta reproduce` starts runs in: most `update_work` first, a
    run with a Switcher first among equals (a stable sort keeps the plan's order after)."""
    return [-x for x in update_work(config)]


def schedule_time(durations: Sequence[float], workers: int) -> float:
    """How long runs of `durations` take when started in that order on `workers` workers,
    each taking the next run as soon as it is free (as `marta.reproduce.local.run_local`
    does): the end of the last run under list scheduling."""
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    free = [0.0] * workers
    for duration in durations:
        earliest = free.index(min(free))
        free[earliest] += float(duration)
    return max(free)


def plan_runs(
    presets: Sequence[Preset],
    budget: str,
    *,
    seed: int | None = None,
    overrides: Sequence[str] = (),
) -> list[RunSpec]:
    """Every run of `presets` under `budget`, in preset and run order (validated).

    `seed`, if given, replaces every run's base seed (``--seed``: a replicate of the same
    experiments on other seeds, to pool with `marta gain`). `overrides` (``--set
    field=value``) set fields of every run last, after the budget's ``scale``, so a value is
    taken as given; as with a budget's, ``marta.*`` fields skip runs without a ``marta``
    section, and the Switcher's fields (`SWITCHER_FIELDS`) skip baseline runs.

    Raises:
        ValueError: a run whose config is invalid (names the preset, run and field), a
            negative `seed`, or a malformed override.
    """
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise ValueError(f"--seed must be an integer >= 0, got {seed!r}")
    try:
        extra = parse_overrides(overrides)
    except ValueError as err:
        raise ValueError(f"--set: {err}") from None
    specs = []
    for p in presets:
        for r in p.runs:
            config = resolve_config(p, r, budget)
            if seed is not None:
                config = config.replace(seed=seed)
            if extra:
                config = _overridden(config, extra, f"preset {p.name}, run {r.name}")
            specs.append(RunSpec(preset=p.name, run=r.name, config=config))
    return specs


def _overridden(config: ExperimentConfig, extra: Mapping[str, Any], where: str) -> ExperimentConfig:
    """`config` with the parsed ``--set`` fields; ``marta.*`` skips a run without MARTA, and
    the Switcher's fields (`SWITCHER_FIELDS`) skip a run whose method is not "marta" (a
    baseline, which never reads them: a Switcher variant leaves its config, and so its
    finished results, as they were)."""
    data = config.to_dict()
    if data.get("marta") is None:
        extra = {k: v for k, v in extra.items() if k != "marta"}
    elif not has_switcher(merge(data, extra)):
        extra = without_switcher(extra)
    try:
        return ExperimentConfig.from_dict(merge(data, extra))
    except ValueError as err:
        raise ValueError(f"--set, {where}: {err}") from None


def inspect_run(spec: RunSpec, out: Path) -> RunState:
    """The state of `spec`'s directory under `out` (see `RunAction`); reads, never writes."""
    from marta.experiments.checkpoint import read_checkpoint_info
    from marta.experiments.runner import RunPaths

    paths = RunPaths(out / spec.key)
    if not paths.holds_run():
        return RunState(action="fresh")
    if not paths.config.exists():
        return RunState(action="conflict", differences=("config.yaml (missing)",))
    try:
        differences = config_differences(load_config(paths.config), spec.config)
    except ValueError:
        differences = ["config.yaml (unreadable)"]
    if differences:
        return RunState(action="conflict", differences=tuple(differences))
    try:
        info = read_checkpoint_info(paths.checkpoints)
    except ValueError:
        return RunState(action="redo")
    num_segments = spec.config.train.num_segments
    if info is None:  # before its first checkpoint, or finished and kept without them
        finished = paths.holds_all_metrics(spec.config.num_seeds, num_segments)
    else:
        finished = info.segments_done >= num_segments
    if not finished:
        return RunState(action="resume")
    if spec.config.marta is not None and not paths.scorecard.exists():
        return RunState(action="redo")
    return RunState(action="done")


def plan_copies(specs: Sequence[RunSpec], states: Mapping[str, RunState]) -> dict[str, RunSpec]:
    """The runs of the plan that copy another run of the same config instead of running.

    Runs whose configs are equal in every field but their location (`config_differences`
    finds none) give the same numbers (same config and seed: same results, on one machine
    and JAX version), so each such group runs once. Its source is a member already done if
    there is one, else one that can resume, else the first in plan order; every other member
    not done yet becomes a copy of it (`copy_run`, once the source is done).

    Args:
        specs: the plan (`plan_runs`).
        states: each run's state by key (`inspect_run`).

    Returns:
        ``{key of a run to copy: the run it copies}``.
    """
    groups: dict[str, list[RunSpec]] = {}
    for spec in specs:
        groups.setdefault(_config_identity(spec.config), []).append(spec)
    progress = {"done": 0, "resume": 1}
    copies = {}
    for group in groups.values():
        source = min(group, key=lambda spec: progress.get(states[spec.key].action, 2))
        for spec in group:
            if spec is not source and states[spec.key].action != "done":
                copies[spec.key] = source
    return copies


def _config_identity(config: ExperimentConfig) -> str:
    """The config as canonical JSON without `LOCATION_FIELDS` (equal iff no
    `config_differences`)."""
    data = {k: v for k, v in config.to_dict().items() if k not in LOCATION_FIELDS}
    return json.dumps(data, sort_keys=True, default=str)


def copy_run(source: Path, target: Path, config: ExperimentConfig) -> None:
    """Replaces `target` by a copy of the finished run in `source`, without its checkpoints.

    The copy holds everything `inspect_run` and `marta report` read (metrics, scorecard,
    activation map, figures) and `config` saved with `target` as its location; its
    ``reproduce.log`` names the source. Written beside `target` and renamed into place, so an
    interrupted copy leaves `target` as it was.
    """
    from marta.experiments.config import save_config

    staging = target.with_name(f".{target.name}.copy")
    old = target.with_name(f".{target.name}.old")
    for leftover in (staging, old):
        shutil.rmtree(leftover, ignore_errors=True)
    shutil.copytree(
        source, staging, ignore=shutil.ignore_patterns("checkpoints", LOG_FILE, LOCK_FILE)
    )
    save_config(config.replace(out_dir=str(target)), staging / "config.yaml")
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    (staging / LOG_FILE).write_text(
        f"--- {stamp} copied from {source} (the same config: the same results)\n",
        encoding="utf-8",
    )
    if target.exists():
        target.rename(old)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Summary:
    """What one invocation of `reproduce` did."""

    planned: int
    """runs in the plan"""
    skipped: int
    """runs already finished before this invocation"""
    copied: int
    """runs finished by copying a run of the same config (`plan_copies`)"""
    done: int
    """runs finished (including the skipped ones)"""
    failed: tuple[str, ...]
    """keys of the runs that failed"""
    interrupted: bool
    """stopped by Ctrl-C (unfinished runs stay pending; rerun to resume)"""
    wall_time_s: float
    """seconds this invocation took"""


def reproduce(
    presets: Sequence[Preset],
    budget: str,
    out: str | Path,
    *,
    backend: Backend = "local",
    workers: int | None = None,
    address: str | None = None,
    max_retries: int = 3,
    force: bool = False,
    seed: int | None = None,
    overrides: Sequence[str] = (),
    cache_dir: str | Path | None = CACHE_DIR,
    stream: Any = None,
) -> Summary:
    """Runs every run of `presets` under `budget` into `out`, skipping finished ones.

    Args:
        presets: the presets to run (`marta.reproduce.presets.select_presets`).
        budget: smoke, quick or paper.
        out: the output directory (layout in docs/reproduce.md).
        backend: "local" (worker processes) or "ray" (one Ray task per run).
        workers: local: processes at once (default: one per available core); ray with no
            address: the CPUs of the local Ray instance it starts.
        address: ray only: the cluster (``auto``, ``HOST:PORT``, ``ray://HOST:PORT``); None
            starts a local Ray instance.
        max_retries: ray only: retries of a task whose worker died.
        force: replace runs of a different config (their results are deleted) instead of
            refusing, and write into a non-empty directory that is not a reproduce output.
        seed: every run's base seed instead of the presets' (`plan_runs`); recorded in
            ``reproduce.json``.
        overrides: ``field=value`` items set in every run (``--set``, `plan_runs`); recorded
            in ``reproduce.json``.
        cache_dir: JAX's persistent compilation cache (relative paths are under `out`);
            None disables it.
        stream: where progress lines go (default: standard error).

    Returns:
        A `Summary`.

    Raises:
        ValueError: bad input, or runs of another config in `out` without `force`; raised
            before any run starts.
    """
    began = time.perf_counter()
    stream = sys.stderr if stream is None else stream
    out = Path(out)
    if backend not in ("local", "ray"):
        raise ValueError(f"--backend must be one of local, ray; got {backend!r}")
    if workers is not None and workers < 1:
        raise ValueError(f"--workers must be an integer >= 1, got {workers}")
    if max_retries < 0:
        raise ValueError(f"--max-retries must be an integer >= 0, got {max_retries}")
    specs = plan_runs(presets, budget, seed=seed, overrides=overrides)
    _check_output_directory(out, force)
    states = {spec.key: inspect_run(spec, out) for spec in specs}
    conflicts = [k for k, state in states.items() if state.action == "conflict"]
    if conflicts and not force:
        raise ValueError(_conflict_message(out, conflicts, states, budget))
    if workers is None:
        from marta.reproduce.local import available_cores

        workers = len(available_cores())
    if backend == "ray":
        from marta.reproduce.ray_backend import connect

        connect(address, workers)  # fails fast, before anything is written
    check_writable(out)
    for preset in presets:
        (out / preset.name).mkdir(exist_ok=True)
        atomic_write_text(out / preset.name / PRESET_FILE, preset.to_yaml(budget))
    status = StatusFile(
        out,
        budget,
        [p.name for p in presets],
        backend=backend,
        workers=workers,
        seed=seed,
        overrides=overrides,
    )
    copies = plan_copies(specs, states)
    for spec in specs:
        action = states[spec.key].action
        done = action == "done"
        # a run started afresh (its directory gone, redo, copied, or replaced under --force)
        # starts its wall time at 0: the time of work lost stays only in its sitting's
        fresh = action in ("fresh", "redo", "conflict") or spec.key in copies
        entry = {} if fresh else status.data["runs"].get(spec.key) or {}
        entry = {**entry, "status": "done" if done else "pending"}
        if spec.key in copies:
            entry["same_as"] = copies[spec.key].key
        elif not done:  # planned to copy in an earlier sitting, to run now
            entry.pop("same_as", None)
        status.data["runs"][spec.key] = entry
    status.write()
    # longest first (`update_work`), so the last runs to finish are short ones
    todo = sorted(
        (spec for spec in specs if states[spec.key].action != "done" and spec.key not in copies),
        key=lambda spec: start_order_key(spec.config),
    )
    skipped = sum(state.action == "done" for state in states.values())
    cache = None if cache_dir is None else out / cache_dir
    payloads = [run_payload(spec, out, force=force, cache_dir=cache) for spec in todo]
    progress = _Progress(stream, len(specs), skipped, began)
    progress.line(
        f"{len(specs)} runs ({skipped} already done, {len(todo)} to run"
        + (f", {len(copies)} to copy from a run of the same config" if copies else "")
        + f") in {out}"
    )
    copied = []
    by_key = {spec.key: spec for spec in specs}

    def copy_from(source: RunSpec) -> None:
        """Copies the finished `source` into every run waiting for it."""
        for spec in specs:
            if copies.get(spec.key) is not source:
                continue
            try:
                copy_run(out / source.key, out / spec.key, spec.config)
            except OSError as err:  # e.g. a full disk: that run fails, the others go on
                error = f"copying {source.key}: {type(err).__name__}: {err}"
                status.set(spec.key, "failed", error=error, same_as=source.key)
                progress.line(f"failed  {spec.key}: {error}")
                continue
            status.set(spec.key, "done", same_as=source.key)
            copied.append(spec.key)
            progress.copied(spec.key, source.key)

    for spec in specs:  # sources already done: their copies now
        if states[spec.key].action == "done":
            copy_from(spec)

    def on_start(payload: Mapping[str, Any], where: int | str | None) -> None:
        place = {None: "", "ray": " (ray task)"}.get(where, f" (core {where})")
        progress.line(f"start   {payload['preset']}/{payload['run']}{place}")
        status.sitting_time(time.perf_counter() - began)

    def on_result(payload: Mapping[str, Any], result: Mapping[str, Any]) -> None:
        key = f"{payload['preset']}/{payload['run']}"
        state = {"done": "done", "interrupted": "pending"}.get(result["status"], "failed")
        status.set(
            key,
            state,
            add_wall_time_s=float(result.get("wall_time_s") or 0.0),
            error=result.get("error", ""),
        )
        status.sitting_time(time.perf_counter() - began)
        progress.result(key, result)
        if result["status"] == "done":
            copy_from(by_key[key])

    if backend == "local":
        from marta.reproduce.local import run_local

        finished = run_local(payloads, workers=workers, on_start=on_start, on_result=on_result)
    else:
        from marta.reproduce.ray_backend import run_ray

        finished = run_ray(
            payloads,
            address=address,
            workers=workers,
            max_retries=max_retries,
            on_start=on_start,
            on_result=on_result,
        )
    wall = time.perf_counter() - began
    status.sitting_time(wall)
    runs = status.data["runs"]
    return Summary(
        planned=len(specs),
        skipped=skipped,
        copied=len(copied),
        done=sum(runs[s.key]["status"] == "done" for s in specs),
        failed=tuple(s.key for s in specs if runs[s.key]["status"] == "failed"),
        interrupted=not finished,
        wall_time_s=wall,
    )


def _check_output_directory(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise ValueError(f"output path {str(out)!r} exists and is not a directory")
    if force or not out.exists() or (out / STATUS_FILE).exists():
        return
    if any(out.iterdir()):
        raise ValueError(
            f"{str(out)!r} is not empty and holds no {STATUS_FILE} (not an output of marta "
            "reproduce); use another --out, or --force to write into it anyway"
        )


def _conflict_message(
    out: Path, conflicts: Sequence[str], states: Mapping[str, RunState], budget: str
) -> str:
    shown = [f"{k} (differs in {', '.join(states[k].differences[:4])})" for k in conflicts[:3]]
    more = f" and {len(conflicts) - 3} more" if len(conflicts) > 3 else ""
    old = (read_status(out) or {}).get("budget")
    hint = (
        f"; {STATUS_FILE} says budget {old!r}, this is {budget!r}" if old and old != budget else ""
    )
    return (
        f"{str(out)!r} holds runs of a different config: {'; '.join(shown)}{more}{hint}. "
        "Use another --out, or --force to delete those runs' results and run them again"
    )


class _Progress:
    """One line per event: elapsed time, runs finished so far, what happened."""

    def __init__(self, stream: Any, total: int, done: int, began: float) -> None:
        self.stream, self.total, self.done, self.began = stream, total, done, began

    def line(self, text: str) -> None:
        elapsed = int(time.perf_counter() - self.began)
        stamp = f"{elapsed // 3600}:{elapsed // 60 % 60:02d}:{elapsed % 60:02d}"
        print(f"[{stamp} {self.done}/{self.total}] {text}", file=self.stream, flush=True)

    def copied(self, key: str, source: str) -> None:
        self.done += 1
        self.line(f"copied  {key} (the same config as {source})")

    def result(self, key: str, result: Mapping[str, Any]) -> None:
        self.done += result["status"] == "done"
        text = f"{result['status']:<7} {key} ({float(result.get('wall_time_s') or 0):.1f} s)"
        if result.get("error"):
            text += f": {result['error']} (log: {key}/{LOG_FILE})"
        self.line(text)


# ------------------------------------------------------------------------- reproduce.json
class StatusFile:
    """``OUT/reproduce.json``: budget, ``--seed`` and ``--set`` if given, presets, marta
    version, wall time, per-run status.

    Entries of runs outside the current plan (other presets run earlier into the same OUT)
    are kept. ``sittings`` lists every invocation of `marta reproduce` into OUT (start time,
    backend, workers, wall time) and ``wall_time_s`` is their sum, so a reproduction run in
    several sittings records its whole wall time. Every change is written at once, atomically.
    """

    def __init__(
        self,
        out: Path,
        budget: str,
        presets: Sequence[str],
        *,
        backend: str,
        workers: int,
        seed: int | None = None,
        overrides: Sequence[str] = (),
    ) -> None:
        self.path = out / STATUS_FILE
        old = read_status(out) or {}
        listed = list(old.get("presets") or [])
        self.sittings = read_sittings(old) + [
            {
                "started": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                "backend": backend,
                "workers": workers,
                "software": software_versions(),
                "wall_time_s": 0.0,
            }
        ]
        self.data: dict[str, Any] = {
            "budget": budget,
            **({} if seed is None else {"seed": seed}),
            **({"set": list(overrides)} if overrides else {}),
            "presets": listed + [p for p in presets if p not in listed],
            "marta_version": marta.__version__,
            "wall_time_s": _total_wall_time(self.sittings),
            "sittings": self.sittings,
            "runs": dict(old.get("runs") or {}),
        }

    def set(
        self,
        key: str,
        status: str,
        *,
        add_wall_time_s: float = 0.0,
        error: str = "",
        same_as: str = "",
    ) -> None:
        """Records a run's status; its wall time adds up over the attempts that ran it. A run
        copied from another (`same_as`, its key) records no wall time of its own."""
        entry = dict(self.data["runs"].get(key) or {})
        wall = float(entry.get("wall_time_s") or 0.0) + add_wall_time_s
        entry.update(status=status, wall_time_s=round(wall, 3))
        for field in ("error", "same_as"):
            entry.pop(field, None)
        if error:
            entry["error"] = error
        if same_as:
            entry["same_as"] = same_as
        self.data["runs"][key] = entry
        self.write()

    def sitting_time(self, wall_time_s: float) -> None:
        """Records this sitting's wall time so far (the total is the sum over sittings)."""
        self.sittings[-1]["wall_time_s"] = round(wall_time_s, 3)
        self.data["wall_time_s"] = _total_wall_time(self.sittings)
        self.write()

    def write(self) -> None:
        atomic_write_text(self.path, json.dumps(self.data, indent=2) + "\n")


def _total_wall_time(sittings: Sequence[Mapping[str, Any]]) -> float:
    return round(sum(float(s.get("wall_time_s") or 0.0) for s in sittings), 3)


def read_status(out: Path) -> dict[str, Any] | None:
    """The parsed ``OUT/reproduce.json``, or None if there is none.

    Raises:
        ValueError: it exists but is not a JSON object.
    """
    path = Path(out) / STATUS_FILE
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"cannot read {path}: {err}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} must hold a JSON object")
    return data


# ------------------------------------------------------------------------- one run
def run_payload(spec: RunSpec, out: Path, *, force: bool, cache_dir: Path | None) -> dict:
    """The picklable description of a run for `execute_run` (its config as plain data)."""
    return {
        "preset": spec.preset,
        "run": spec.run,
        "config": spec.config.to_dict(),
        "out": str(out),
        "force": force,
        "cache_dir": None if cache_dir is None else str(cache_dir),
        # a worker process (or Ray task) imports the plugins this process has loaded
        "plugins": loaded_plugins(),
    }


def execute_run(payload: Mapping[str, Any], core: int | None = None) -> dict[str, Any]:
    """Runs (or resumes) one run in this process; never raises for a failing run.

    Args:
        payload: from `run_payload`.
        core: CPU core to pin this process to (local backend), or None.

    Returns:
        ``{"key", "status": "done"|"failed"|"interrupted", "wall_time_s", "error"}``; the
        run's progress lines and any traceback go to ``OUT/<preset>/<run>/reproduce.log``.
    """
    began = time.perf_counter()
    key = f"{payload['preset']}/{payload['run']}"
    run_dir = Path(payload["out"]) / key
    run_dir.mkdir(parents=True, exist_ok=True)
    result = {"key": key, "status": "failed", "wall_time_s": 0.0, "error": ""}
    with open(run_dir / LOG_FILE, "a", encoding="utf-8") as log:
        print(
            f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} {key}: pid "
            f"{os.getpid()} on {socket.gethostname()}"
            + (f", core {core}" if core is not None else ""),
            file=log,
            flush=True,
        )
        try:
            with _exclusive(run_dir / LOCK_FILE):
                _setup_process(core, payload.get("cache_dir"))
                load_plugins(payload.get("plugins", ()))
                _run(payload, run_dir, log)
            result["status"] = "done"
        except KeyboardInterrupt:
            result["status"] = "interrupted"
        except Exception as err:  # a failing run must not take the others down
            from marta.experiments.runner import RunInterrupted

            if isinstance(err, RunInterrupted):
                result["status"] = "interrupted"
            else:
                result["error"] = f"{type(err).__name__}: {' '.join(str(err).split())}"[:500]
                traceback.print_exc(file=log)
        result["wall_time_s"] = round(time.perf_counter() - began, 3)
        print(f"--- {result['status']} after {result['wall_time_s']:.1f} s", file=log, flush=True)
    return result


def _run(payload: Mapping[str, Any], run_dir: Path, log: Any) -> None:
    """Inspects the run directory again (a retried Ray task finds its own checkpoint) and
    starts, resumes or restarts the run accordingly."""
    from marta.experiments.runner import run_experiment

    spec = RunSpec(
        preset=payload["preset"],
        run=payload["run"],
        config=ExperimentConfig.from_dict(payload["config"]),
    )
    state = inspect_run(spec, Path(payload["out"]))
    print(f"state: {state.action}", file=log, flush=True)
    if state.action == "done":
        return
    if state.action == "conflict" and not payload["force"]:
        raise ValueError(
            f"{run_dir} holds a run with a different config (differs in "
            f"{', '.join(state.differences[:5])}); use --force to replace it"
        )
    run_experiment(
        spec.config,
        run_dir,
        resume=state.action == "resume",
        force=state.action in ("redo", "conflict"),
        progress="log",
        stream=log,
    )


def _setup_process(core: int | None, cache_dir: str | None) -> None:
    """One core and one XLA thread for this process; JAX's persistent compilation cache.

    The XLA flags only take effect if JAX's CPU backend has not started yet in this process
    (true for a fresh worker process).
    """
    if core is not None and hasattr(os, "sched_setaffinity"):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {core})
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_cpu_multi_thread_eigen" not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} {SINGLE_THREAD_XLA_FLAGS}".strip()
    enable_compile_cache(cache_dir)


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    """Holds an exclusive lock on `path` (released when the process dies, even by kill -9).

    Raises:
        RuntimeError: another process holds it (a worker of an earlier invocation that is
            still running this run).
    """
    try:
        import fcntl
    except ImportError:  # no POSIX locks: nothing to guard with
        yield
        return
    with open(path, "a", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise RuntimeError(
                f"{path.parent} is being run by another process (its lock {path.name} is held)"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


__all__ = [
    "CACHE_DIR",
    "RunSpec",
    "RunState",
    "StatusFile",
    "copy_run",
    "execute_run",
    "inspect_run",
    "plan_copies",
    "plan_runs",
    "read_status",
    "reproduce",
    "run_payload",
]
