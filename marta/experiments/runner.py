"""The host-side experiment runner: compiled segments in a Python loop, all I/O around them.

How to read this file: `run_experiment` validates everything (config, output directory,
optional TensorBoard, an existing run in the directory), builds a `Trainer` (any object with
``init(key) -> state``, ``segment(state) -> (state, metrics)`` and ``num_segments``, see
`marta.core.train`), then runs::

    state = jit(vmap(trainer.init))(seed_keys(seed, num_seeds))     # or a checkpoint
    for each remaining segment:
        state, metrics = jit(vmap(trainer.segment), donate state)(state)
        check metrics are finite -> append one line per seed to seed_<k>/metrics.jsonl
        -> checkpoint (every `checkpoint_every` segments and at the end) -> progress, plot

The last checkpoint of a finished run leaves out the replay buffers (`keep_final_buffers`).

Nothing inside the compiled functions does I/O. Because a segment is a pure function of the
state and the checkpoint holds the whole state, a resumed run computes exactly the numbers an
uninterrupted run computes. Run-directory layout: see docs/running.md.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import functools
import importlib.util
import math
import shutil
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, TextIO

import numpy as np

from marta.experiments.checkpoint import (
    CheckpointInfo,
    KeyPath,
    load_checkpoint,
    read_checkpoint_info,
    save_checkpoint,
)
from marta.experiments.config import (
    ExperimentConfig,
    config_differences,
    load_config,
    save_config,
    software_versions,
)
from marta.experiments.io import append_jsonl, check_writable, count_jsonl, truncate_jsonl

ProgressMode = Literal["auto", "bar", "log", "none"]
#: called after each segment's metrics are written: (segments_done, one record per seed)
SegmentCallback = Callable[[int, list[dict[str, Any]]], None]


class NonFiniteMetricError(RuntimeError):
    """A metric was NaN or infinite; the run stopped and its last good checkpoint is kept."""


class DiskFullError(RuntimeError):
    """Writing the run directory failed for lack of space; the last complete checkpoint is kept
    (every file is replaced atomically) and ``--resume`` continues once space is freed."""


class RunInterrupted(RuntimeError):
    """The run stopped on SIGINT after saving a checkpoint; `--resume` continues it."""


class ResumeWarning(UserWarning):
    """A run resumes from a checkpoint that another marta, JAX or jaxlib version wrote."""


@dataclasses.dataclass(frozen=True)
class RunPaths:
    """Where a run directory keeps each file (see docs/running.md)."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def curves(self) -> Path:
        return self.root / "curves.png"

    @property
    def events(self) -> Path:
        return self.root / "events"

    @property
    def scorecard(self) -> Path:
        return self.root / "scorecard.json"

    @property
    def activation_map(self) -> Path:
        return self.root / "activation_map.json"

    @property
    def evaluations(self) -> Path:
        """``DIR/eval/``: the results of ``marta eval``."""
        return self.root / "eval"

    def seed_dir(self, seed_index: int) -> Path:
        return self.root / f"seed_{seed_index}"

    def metrics(self, seed_index: int) -> Path:
        return self.seed_dir(seed_index) / "metrics.jsonl"

    def holds_run(self) -> bool:
        """Whether the directory already holds (part of) a run."""
        return (
            self.config.exists()
            or self.checkpoints.exists()
            or any(self.root.glob("seed_*/metrics.jsonl"))
        )

    def holds_all_metrics(self, num_seeds: int, num_segments: int) -> bool:
        """Whether every seed's metrics.jsonl holds all `num_segments` records: a finished
        run, even without its checkpoints (results/ keeps run directories without them)."""
        return all(count_jsonl(self.metrics(k)) >= num_segments for k in range(num_seeds))


def build_trainer(config: ExperimentConfig) -> Any:
    """The value-learner `Trainer` of a config: env from the registry, learner, `make_train`."""
    import marta.envs
    from marta.core.train import make_train
    from marta.learners import make_learner

    env = marta.envs.make(config.env_id, **config.env_kwargs)
    learner = make_learner(config.learner_name, config.learner, env.spec)
    if config.marta is not None:
        from marta.core.marta import make_marta_train

        return make_marta_train(config.train, config.marta, env, learner)
    return make_train(config.train, env, learner)


def load_trained(paths: RunPaths, config: ExperimentConfig) -> tuple[Any, Any, CheckpointInfo]:
    """(trainer, state of every seed, checkpoint info) of a run's latest checkpoint.

    Raises:
        FileNotFoundError: the run has no checkpoint yet.
    """
    import jax

    from marta.core import seed_keys

    trainer = build_trainer(config)
    template = jax.eval_shape(jax.vmap(trainer.init), seed_keys(config.seed, config.num_seeds))
    state, info = load_checkpoint(paths.checkpoints, template)
    return trainer, state, info


def in_replay_buffer(path: KeyPath) -> bool:
    """Whether the state leaf at key `path` belongs to a replay buffer: the trainers keep
    theirs in fields named ``buffer`` (the team's `TrainState.buffer`, the adversary's and the
    Switcher's in `marta.core.marta`)."""
    return any(getattr(entry, "name", None) == "buffer" for entry in path)


def resume_command(root: Path) -> str:
    """The command line that continues the run in `root`."""
    return f"marta train --resume {root}"


# ------------------------------------------------------------------------------ main entry
def run_experiment(
    config: ExperimentConfig | None,
    out_dir: str | Path | None = None,
    *,
    resume: bool = False,
    force: bool = False,
    tensorboard: bool = False,
    progress: ProgressMode = "auto",
    make_trainer: Callable[[ExperimentConfig], Any] | None = None,
    on_segment: SegmentCallback | None = None,
    stream: TextIO | None = None,
) -> Path:
    """Runs (or resumes) an experiment and writes its run directory.

    Args:
        config: the experiment; with ``resume=True`` it may be None (the directory's
            ``config.yaml`` is used) and otherwise must equal it.
        out_dir: run directory; defaults to ``config.out_dir``.
        resume: continue the run in `out_dir` from its latest checkpoint.
        force: start afresh in a directory that already holds a run, deleting its results.
        tensorboard: also write TensorBoard events to ``out_dir/events`` (needs tensorboardX).
        progress: ``"bar"`` (tqdm or a one-line bar), ``"log"`` (a line per segment),
            ``"none"``, or ``"auto"`` (a bar on a terminal, lines otherwise).
        make_trainer: builds the trainer from the config; defaults to `build_trainer`
            (the MARTA trainer or a test double plugs in here).
        on_segment: called after each segment with (segments_done, per-seed records).
        stream: where progress and messages go (default: standard error).

    Returns:
        The run directory.

    Raises:
        ValueError: invalid input, detected before anything is compiled.
        NonFiniteMetricError: a metric became NaN/inf (with ``config.check_finite``).
        DiskFullError: the disk (or quota) filled up while writing results.
        RunInterrupted: SIGINT; a checkpoint was written first.
    """
    stream = sys.stderr if stream is None else stream
    root = out_dir if out_dir is not None else (config.out_dir if config is not None else None)
    if root is None:
        raise ValueError("no output directory: give --out DIR (or out_dir in the config)")
    paths = RunPaths(Path(root))
    if resume:
        config = _resumable_config(paths, config)
        check_writable(paths.root)
    else:
        if config is None:
            raise ValueError("a config is needed unless resuming")
        config = config.replace(out_dir=str(paths.root))
        if paths.root.exists() and not paths.root.is_dir():
            raise ValueError(f"output path {str(paths.root)!r} exists and is not a directory")
        check_writable(paths.root)
        _check_fresh_directory(paths, config, force)
    summary_writer_cls = _tensorboard_writer_class() if tensorboard else None

    trainer = (make_trainer or build_trainer)(config)
    num_segments = int(trainer.num_segments)
    if num_segments < 1:
        raise ValueError(f"the trainer has {num_segments} segments; nothing to run")

    from marta.core.train import seed_keys

    try:
        init_fn, segment_fn = compiled(trainer)
    except TypeError:  # an unhashable trainer object: compile without the cache
        init_fn, segment_fn = compiled.__wrapped__(trainer)
    keys = seed_keys(config.seed, config.num_seeds)
    if resume:
        state, start, env_steps_done = _restore(paths, config, trainer, keys, num_segments)
    else:
        state, start, env_steps_done = None, 0, 0
        if force:
            _delete_results(paths)
    for k in range(config.num_seeds):
        paths.seed_dir(k).mkdir(parents=True, exist_ok=True)
        truncate_jsonl(paths.metrics(k), start)
    if not resume:
        save_config(config, paths.config)
    writers = _open_writers(summary_writer_cls, paths, config.num_seeds, env_steps_done)
    reporter = _Progress(progress, num_segments, start, stream)
    try:
        if start >= num_segments:
            reporter.message(f"{paths.root}: already complete ({num_segments} segments)")
        else:
            if resume:
                reporter.message(f"resuming {paths.root} at segment {start}/{num_segments}")
            if state is None:
                state = init_fn(keys)
            with _disk_full_is_resumable(paths):
                state = _segment_loop(
                    segment_fn, state, config, paths, start, num_segments, reporter, writers,
                    on_segment,
                )  # fmt: skip
                if getattr(trainer, "scorecard", None) is not None:
                    write_scorecard(paths.scorecard, trainer, state)
                if getattr(trainer, "activation_map", None) is not None:
                    write_activation_map(paths.activation_map, trainer, state)
    finally:
        reporter.close()
        for writer in writers:
            writer.close()
    _plot(paths)
    return paths.root


def _restore(
    paths: RunPaths, config: ExperimentConfig, trainer: Any, keys: Any, num_segments: int
) -> tuple[Any, int, int]:
    """(state or None, segments done, env steps done) from the latest checkpoint, if any."""
    import jax

    info = read_checkpoint_info(paths.checkpoints)
    if info is None:
        finished = paths.holds_all_metrics(config.num_seeds, num_segments) and (
            getattr(trainer, "scorecard", None) is None or paths.scorecard.exists()
        )
        if finished:  # a finished run kept without its checkpoints: nothing to redo
            return None, num_segments, config.train.total_env_steps
        return None, 0, 0  # stopped before its first checkpoint: start again
    differences = config_differences(ExperimentConfig.from_dict(info.config), config)
    if differences:
        raise ValueError(
            f"the checkpoint in {paths.checkpoints} belongs to a different config "
            f"(differs in {', '.join(differences[:5])})"
        )
    if info.segments_done > num_segments:
        raise ValueError(
            f"the checkpoint holds {info.segments_done} segments, the run has only {num_segments}"
        )
    _warn_if_software_changed(paths, info.software)
    template = jax.eval_shape(jax.vmap(trainer.init), keys)
    state, info = load_checkpoint(paths.checkpoints, template)
    return state, info.segments_done, max(info.env_steps, 0)


def _warn_if_software_changed(paths: RunPaths, written_by: str) -> None:
    """Warns when the checkpoint was written by another marta, JAX or jaxlib version: the
    resumed run still trains, but its later numbers need not match an uninterrupted run's."""
    running = software_versions()
    if written_by not in ("?", running):
        warnings.warn(
            f"resuming {paths.checkpoints}, written by {written_by}, with {running}: the "
            "remaining segments need not repeat an uninterrupted run's numbers",
            ResumeWarning,
            stacklevel=3,
        )


@functools.lru_cache(maxsize=8)
def compiled(trainer: Any) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    """``jit(vmap(init))`` and ``jit(vmap_seeds(segment))`` (state buffers donated) of a
    trainer.

    Cached per trainer, so runs that reuse a trainer object (several runs in one process,
    resume tests) compile once.
    """
    import jax

    from marta.learners.trim import vmap_seeds

    return jax.jit(jax.vmap(trainer.init)), jax.jit(vmap_seeds(trainer.segment), donate_argnums=0)


def _segment_loop(
    segment_fn: Callable[[Any], Any],
    state: Any,
    config: ExperimentConfig,
    paths: RunPaths,
    start: int,
    num_segments: int,
    reporter: _Progress,
    writers: Sequence[Any],
    on_segment: SegmentCallback | None,
) -> Any:
    import jax

    with warnings.catch_warnings():
        # CPU backends may not reuse donated buffers; the warning says nothing actionable.
        warnings.filterwarnings("ignore", message="Some donated buffers were not usable")
        last_saved = start if read_checkpoint_info(paths.checkpoints) is not None else None
        with _sigint_flag(reporter) as interrupted:
            for done in range(start + 1, num_segments + 1):
                began = time.perf_counter()
                state, metrics = segment_fn(state)
                metrics = jax.device_get(metrics)
                records = _records(metrics, config.num_seeds, done, time.perf_counter() - began)
                if config.check_finite:
                    _check_finite(records, done, num_segments, paths, last_saved)
                for k, record in enumerate(records):
                    append_jsonl(paths.metrics(k), [record])
                for k, writer in enumerate(writers):
                    _write_scalars(writer, records[k])
                if on_segment is not None:
                    on_segment(done, records)
                stop = interrupted() and done < num_segments
                finished = done == num_segments
                if done % config.checkpoint_every == 0 or finished or stop:
                    save_checkpoint(
                        paths.checkpoints,
                        state,
                        segments_done=done,
                        config=config.to_dict(),
                        env_steps=int(records[0].get("env_steps", -1)),
                        omit=in_replay_buffer
                        if finished and not config.keep_final_buffers
                        else None,
                    )
                    last_saved = done
                reporter.update(done, records)
                if stop:
                    _plot(paths)
                    raise RunInterrupted(
                        f"interrupted after segment {done}/{num_segments}; checkpoint saved. "
                        f"Resume with: {resume_command(paths.root)}"
                    )
                if done % config.plot_every == 0 and done < num_segments:
                    _plot(paths)
    return state


def write_scorecard(path: Path, trainer: Any, state: Any) -> dict[str, Any]:
    """Scores the final greedy team under the trainer's fault settings; writes JSON.

    ``trainer.scorecard(state) -> {row: f32[episodes]}`` is vmapped over the seeds; the file
    holds, per row, the mean return of each seed, their mean and standard deviation, plus
    the trainer's ``scorecard_info`` (e.g. the fault probability p).
    """
    import json

    import jax

    returns = jax.device_get(jax.jit(jax.vmap(trainer.scorecard))(state))
    rows = {name: seed_summary(values) for name, values in returns.items()}
    data = {**dict(getattr(trainer, "scorecard_info", ())), "returns": rows}
    from marta.experiments.io import atomic_write_text

    atomic_write_text(path, json.dumps(data, indent=2) + "\n")
    return data


def seed_summary(values: Any) -> dict[str, Any]:
    """``{"per_seed", "mean", "std"}`` of per-episode values [seeds, episodes] (each seed's
    mean; then the mean and population standard deviation over seeds)."""
    per_seed = np.asarray(values, np.float64).mean(axis=-1)
    return {
        "per_seed": [round(float(v), 6) for v in per_seed],
        "mean": round(float(per_seed.mean()), 6),
        "std": round(float(per_seed.std()), 6),
    }


def write_activation_map(path: Path, trainer: Any, state: Any) -> dict[str, Any]:
    """Writes the Switcher's activation map (paper, Fig. 4), summed over seeds, as JSON.

    ``trainer.activation_map(state)`` gives the `marta.core.marta.ActivationMap` of every
    seed (leading seed axis); the file holds ``shape`` [H, W], ``counts`` (activations per
    cell: where the faulted agent stood), ``visits`` (agent-steps per cell), both summed over
    the seeds and the whole run, ``off_grid`` (activations on agents off the grid) and
    ``per_seed_activations`` (each seed's total of ``counts``).
    """
    import json

    import jax

    maps = jax.device_get(trainer.activation_map(state))
    counts = np.asarray(maps.activations, np.int64)
    visits = np.asarray(maps.visits, np.int64)
    data = {
        "shape": list(trainer.grid_shape),
        "counts": counts.sum(axis=0).tolist(),
        "visits": visits.sum(axis=0).tolist(),
        "off_grid": int(np.asarray(maps.off_grid, np.int64).sum()),
        "per_seed_activations": counts.sum(axis=(1, 2)).tolist(),
    }
    from marta.experiments.io import atomic_write_text

    atomic_write_text(path, json.dumps(data) + "\n")
    return data


@contextlib.contextmanager
def _disk_full_is_resumable(paths: RunPaths) -> Iterator[None]:
    """Turns ENOSPC/EDQUOT while writing results into a `DiskFullError` naming the resume."""
    try:
        yield
    except OSError as err:
        if err.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        info = read_checkpoint_info(paths.checkpoints)
        kept = f"segment {info.segments_done}" if info else "none yet"
        raise DiskFullError(
            f"no space left on the device of {paths.root} ({err.strerror}: "
            f"{err.filename or 'a result file'}); the last complete checkpoint is kept "
            f"({kept}). Free space, then resume with: {resume_command(paths.root)}"
        ) from err


# ------------------------------------------------------------------------------ checks
def _resumable_config(paths: RunPaths, config: ExperimentConfig | None) -> ExperimentConfig:
    if not paths.config.exists():
        raise ValueError(f"nothing to resume in {str(paths.root)!r}: it has no config.yaml")
    stored = load_config(paths.config)
    if config is not None:
        differences = config_differences(stored, config)
        if differences:
            raise ValueError(
                f"{paths.config} differs from the given config in {', '.join(differences[:5])}; "
                "resume without changing the config"
            )
    return stored.replace(out_dir=str(paths.root))


def _check_fresh_directory(paths: RunPaths, config: ExperimentConfig, force: bool) -> None:
    """Refuses to overwrite a run unless `force` (its results are deleted later)."""
    if not paths.holds_run():
        return
    if not force:
        what = "a run"
        if paths.config.exists():
            try:
                differences = config_differences(load_config(paths.config), config)
            except ValueError:
                differences = ["config.yaml (unreadable)"]
            what = (
                f"a run with a different config (differs in {', '.join(differences[:5])})"
                if differences
                else "a run of this config"
            )
        raise ValueError(
            f"{str(paths.root)!r} already holds {what}; use --resume to continue it, --force "
            "to delete its results and start again, or another --out"
        )


def _delete_results(paths: RunPaths) -> None:
    """Deletes the files a run writes (and nothing else in the directory)."""
    for directory in (paths.checkpoints, paths.events, paths.evaluations):
        shutil.rmtree(directory, ignore_errors=True)
    for path in [
        paths.config,
        paths.curves,
        paths.scorecard,
        paths.activation_map,
        *paths.root.glob("seed_*/metrics.jsonl"),
    ]:
        path.unlink(missing_ok=True)


def _tensorboard_writer_class() -> Any:
    if importlib.util.find_spec("tensorboardX") is None:
        raise ValueError(
            "--tensorboard needs the optional package tensorboardX, which is not installed "
            "(pip install tensorboardX)"
        )
    from tensorboardX import SummaryWriter

    return SummaryWriter


def _open_writers(writer_cls: Any, paths: RunPaths, num_seeds: int, purge_step: int) -> list[Any]:
    """One TensorBoard writer per seed; events at or after `purge_step` (resume) are dropped."""
    if writer_cls is None:
        return []
    return [
        writer_cls(str(paths.events / f"seed_{k}"), purge_step=purge_step or None)
        for k in range(num_seeds)
    ]


def _write_scalars(writer: Any, record: dict[str, Any]) -> None:
    step = int(record.get("env_steps", record["segment"]))
    for name, value in record.items():
        if name != "segment" and isinstance(value, int | float) and not isinstance(value, bool):
            writer.add_scalar(name, value, step)
    writer.flush()


def _records(
    metrics: dict[str, Any], num_seeds: int, segment: int, wall_time_s: float
) -> list[dict[str, Any]]:
    """One JSON-ready record per seed: segment, the trainer's metrics, wall time."""
    arrays = {name: np.asarray(value) for name, value in metrics.items()}
    for name, array in arrays.items():
        if array.ndim == 0 or array.shape[0] != num_seeds:
            raise RuntimeError(
                f"metric {name!r} has shape {array.shape}; expected a leading seed axis of "
                f"{num_seeds} (the trainer's segment must return per-seed scalars)"
            )
    return [
        {
            "segment": segment,
            **{name: array[k].tolist() for name, array in arrays.items()},
            "wall_time_s": round(wall_time_s, 6),
        }
        for k in range(num_seeds)
    ]


def _check_finite(
    records: list[dict[str, Any]],
    segment: int,
    num_segments: int,
    paths: RunPaths,
    last_saved: int | None,
) -> None:
    for k, record in enumerate(records):
        for name, value in record.items():
            values = np.asarray(value, dtype=float).ravel() if _numeric(value) else ()
            if len(values) and not np.isfinite(values).all():
                bad = next(v for v in values.tolist() if not math.isfinite(v))
                checkpoint = (
                    f"the last good checkpoint (segment {last_saved}) is kept in "
                    f"{paths.checkpoints}; resume with: {resume_command(paths.root)}"
                    if last_saved
                    else "no checkpoint had been written yet"
                )
                raise NonFiniteMetricError(
                    f"metric {name} = {bad} (seed {k}) is not finite in segment "
                    f"{segment}/{num_segments} at env step {record.get('env_steps', '?')}; "
                    f"stopped. {checkpoint}"
                )


def _numeric(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    return isinstance(value, list) and np.asarray(value).dtype.kind in "iuf"


def _plot(paths: RunPaths) -> None:
    from marta.experiments.plots import plot_curves

    plot_curves(paths.root)


@contextlib.contextmanager
def _sigint_flag(reporter: _Progress) -> Iterator[Callable[[], bool]]:
    """Turns the first SIGINT into a flag checked between segments; a second one aborts."""
    received: list[bool] = []
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return

    def handle(signum: int, frame: Any) -> None:
        del signum, frame
        if received:
            raise KeyboardInterrupt
        received.append(True)
        reporter.message(
            "interrupt: finishing the current segment, then saving a checkpoint "
            "(Ctrl-C again aborts without saving)"
        )

    previous = signal.signal(signal.SIGINT, handle)
    try:
        yield lambda: bool(received)
    finally:
        signal.signal(signal.SIGINT, previous)


# ------------------------------------------------------------------------------ progress
class _Progress:
    """Progress with ETA: tqdm (or a one-line bar) on a terminal, plain lines otherwise."""

    def __init__(self, mode: ProgressMode, total: int, initial: int, stream: TextIO) -> None:
        if mode == "auto":
            mode = "bar" if getattr(stream, "isatty", lambda: False)() else "log"
        self.mode, self.total, self.initial, self.stream = mode, total, initial, stream
        self.started = time.perf_counter()
        self.first_done: float | None = None
        self.bar = None
        if mode == "bar" and importlib.util.find_spec("tqdm") is not None:
            from tqdm import tqdm

            self.bar = tqdm(
                total=total, initial=initial, unit="segment", file=stream, dynamic_ncols=True
            )

    def message(self, text: str) -> None:
        if self.mode == "none":
            return
        if self.bar is not None:
            self.bar.write(text, file=self.stream)
        else:
            print(("\r" if self.mode == "bar" else "") + text, file=self.stream, flush=True)

    def update(self, done: int, records: list[dict[str, Any]]) -> None:
        if self.mode == "none":
            return
        summary = _summary(records)
        if self.bar is not None:
            self.bar.set_postfix_str(summary, refresh=False)
            self.bar.update(done - self.bar.n)
            return
        now = time.perf_counter()
        if self.first_done is None:  # the first segment includes compilation: no rate yet
            self.first_done = now
            eta = "?"
        else:
            rate = (now - self.first_done) / (done - self.initial - 1)
            eta = _hms(rate * (self.total - done))
        line = (
            f"segment {done}/{self.total}  {summary}  elapsed {_hms(now - self.started)}  ETA {eta}"
        )
        if self.mode == "bar":
            width = 20
            filled = int(width * done / self.total)
            bar = "#" * filled + "-" * (width - filled)
            print(f"\r[{bar}] {line}", file=self.stream, end="", flush=True)
        else:
            print(line, file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        elif self.mode == "bar":
            print(file=self.stream)


def _summary(records: list[dict[str, Any]]) -> str:
    parts = []
    if "env_steps" in records[0]:
        parts.append(f"env_steps {records[0]['env_steps']}")
    returns = [r["eval_return_mean"] for r in records if "eval_return_mean" in r]
    if returns:
        spread = f" ± {np.std(returns):.3g}" if len(returns) > 1 else ""
        parts.append(f"eval_return {np.mean(returns):.4g}{spread}")
    parts.append(f"{records[0]['wall_time_s']:.2f}s/segment")
    return "  ".join(parts)


def _hms(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


__all__ = [
    "NonFiniteMetricError",
    "RunInterrupted",
    "RunPaths",
    "build_trainer",
    "run_experiment",
    "seed_summary",
    "write_activation_map",
    "write_scorecard",
]
