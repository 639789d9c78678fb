"""Host runner: atomic I/O, JSONL truncation, checkpoints, resume == uninterrupted, NaN stop,
SIGINT, refusing to overwrite runs, TensorBoard, progress output.

Most tests drive the runner with a tiny fake `Trainer` (a pure JAX function of a counter, an
accumulator and a PRNG key) so the I/O, resume and determinism logic is tested in seconds; one
test uses the real `make_train` on a tiny config.
"""

from __future__ import annotations

import errno
import io
import json
import os
import shutil
import signal
import sys
import types
import warnings
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import struct

from marta.experiments import checkpoint as ckpt
from marta.experiments.config import (
    ExperimentConfig,
    build_config,
    load_config,
    software_versions,
)
from marta.experiments.io import (
    append_jsonl,
    atomic_open,
    atomic_write_text,
    count_jsonl,
    read_jsonl,
    truncate_jsonl,
)
from marta.experiments.plots import load_curves, mean_ci, t_quantile_975
from marta.experiments.runner import (
    DiskFullError,
    NonFiniteMetricError,
    ResumeWarning,
    RunInterrupted,
    RunPaths,
    build_trainer,
    in_replay_buffer,
    load_trained,
    run_experiment,
)
from marta.learners.trim import vmap_seeds

TINY_TRAIN = [
    "train.num_envs=1",
    "train.rollout_steps=1",
    "train.eval_interval=1",
    "train.eval_episodes=1",
]


# ------------------------------------------------------------------------------ fake trainer
@struct.dataclass
class FakeState:
    key: jax.Array  # typed PRNG key
    raw_key: jax.Array  # u32[2]
    counter: jax.Array  # i32[]
    acc: jax.Array  # f32[]
    buffer: jax.Array  # bf16[4]


class FakeTrainer(NamedTuple):
    init: object
    segment: object
    num_segments: int


def make_fake_trainer(num_segments: int, nan_segment: int = -1) -> FakeTrainer:
    def init(key):
        k1, k2 = jax.random.split(key)
        return FakeState(
            key=k1,
            raw_key=jax.random.key_data(k2),
            counter=jnp.zeros((), jnp.int32),
            acc=jnp.zeros((), jnp.float32),
            buffer=jnp.zeros((4,), jnp.bfloat16),
        )

    def segment(state):
        key, sub = jax.random.split(state.key)
        noise = jax.random.normal(sub, ())
        raw, sub2 = jax.random.split(jax.random.wrap_key_data(state.raw_key))
        counter = state.counter + 1
        acc = state.acc + noise + jax.random.uniform(sub2, ())
        buffer = jnp.roll(state.buffer, 1).at[0].set(acc.astype(jnp.bfloat16))
        new = FakeState(key, jax.random.key_data(raw), counter, acc, buffer)
        loss = jnp.where(counter == nan_segment, jnp.nan, acc**2)
        metrics = {
            "env_steps": counter * 10,
            "eval_return_mean": acc,
            "eval_return_std": jnp.abs(noise),
            "loss": loss,
            "buffer_sum": buffer.astype(jnp.float32).sum(),
        }
        return new, metrics

    return FakeTrainer(init=init, segment=segment, num_segments=num_segments)


def fake_config(segments: int = 6, **top) -> ExperimentConfig:
    items = [f"train.total_env_steps={segments}", *TINY_TRAIN]
    items += [f"{k}={v}" for k, v in top.items()]
    return build_config({"env_id": "matrix-climbing", "learner_name": "iql"}, items)


def fake_factory(nan_segment: int = -1):
    """A make_trainer that reuses one trainer object per segment count (compiled once)."""
    cache: dict[int, FakeTrainer] = {}

    def factory(config: ExperimentConfig) -> FakeTrainer:
        n = config.train.num_segments
        if n not in cache:
            cache[n] = make_fake_trainer(n, nan_segment)
        return cache[n]

    return factory


FACTORY = fake_factory()


def run(config, out, **kwargs):
    kwargs.setdefault("make_trainer", FACTORY)
    kwargs.setdefault("progress", "none")
    return run_experiment(config, out, **kwargs)


def metrics_of(root: Path, num_seeds: int) -> list[list[dict]]:
    """Every seed's metrics without the wall time (the only non-deterministic field)."""
    runs = [read_jsonl(root / f"seed_{k}" / "metrics.jsonl") for k in range(num_seeds)]
    return [[{k: v for k, v in r.items() if k != "wall_time_s"} for r in recs] for recs in runs]


# ------------------------------------------------------------------------------ io
def test_atomic_write_replaces_file_and_keeps_old_one_on_error(tmp_path):
    path = tmp_path / "f.txt"
    atomic_write_text(path, "first")
    atomic_write_text(path, "second")
    assert path.read_text() == "second"
    with pytest.raises(RuntimeError), atomic_open(path, "w") as f:
        f.write("partial")
        raise RuntimeError("crash while writing")
    assert path.read_text() == "second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.txt"]  # no temp files left


def test_jsonl_truncation_drops_extra_and_torn_lines(tmp_path):
    path = tmp_path / "m.jsonl"
    append_jsonl(path, [{"segment": i, "x": i * 0.5} for i in range(1, 6)])
    with open(path, "a") as f:
        f.write('{"segment": 6, "x"')  # a kill in the middle of a write
    assert count_jsonl(path) == 5
    assert [r["segment"] for r in read_jsonl(path)] == [1, 2, 3, 4, 5]
    truncate_jsonl(path, 3)
    assert read_jsonl(path) == [{"segment": i, "x": i * 0.5} for i in range(1, 4)]
    assert path.read_text().endswith("}\n")
    with pytest.raises(ValueError, match="has 3 complete lines but the checkpoint expects 4"):
        truncate_jsonl(path, 4)
    truncate_jsonl(path, 0)
    assert read_jsonl(path) == []
    truncate_jsonl(tmp_path / "missing.jsonl", 0)  # a missing file counts as empty
    with pytest.raises(ValueError):
        truncate_jsonl(tmp_path / "missing.jsonl", 1)


def test_read_jsonl_names_a_bad_line(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"a": 1}\nnot json\n')
    with pytest.raises(ValueError, match=r"m.jsonl:2: not valid JSON"):
        read_jsonl(path)


# ------------------------------------------------------------------------------ checkpoints
def test_checkpoint_round_trip_is_bit_exact(tmp_path):
    trainer = make_fake_trainer(3)
    keys = jax.random.split(jax.random.key(3), 2)
    state = jax.vmap(trainer.init)(keys)
    state, _ = vmap_seeds(trainer.segment)(state)
    directory = tmp_path / "checkpoints"
    ckpt.save_checkpoint(directory, state, segments_done=1, config={"a": 1}, env_steps=10)
    state2, _ = vmap_seeds(trainer.segment)(state)
    ckpt.save_checkpoint(directory, state2, segments_done=2, config={"a": 1}, env_steps=20)
    assert sorted(p.name for p in directory.iterdir()) == ["latest.json", "state-000002.npz"]

    template = jax.eval_shape(jax.vmap(trainer.init), keys)
    loaded, info = ckpt.load_checkpoint(directory, template)
    assert (info.segments_done, info.env_steps, info.config) == (2, 20, {"a": 1})
    for a, b in zip(jax.tree.leaves(state2), jax.tree.leaves(loaded), strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape
        if jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key):
            a, b = jax.random.key_data(a), jax.random.key_data(b)
        np.testing.assert_array_equal(np.asarray(a).view(np.uint8), np.asarray(b).view(np.uint8))
    # the loaded state continues exactly like the original
    _, m1 = vmap_seeds(trainer.segment)(state2)
    _, m2 = vmap_seeds(trainer.segment)(loaded)
    assert jax.tree.map(lambda x, y: bool((x == y).all()), m1, m2) == jax.tree.map(
        lambda _: True, m1
    )


def test_checkpoint_leaves_out_the_omitted_leaves_and_loads_them_as_zeros(tmp_path):
    trainer = make_fake_trainer(3)
    keys = jax.random.split(jax.random.key(1), 2)
    state, _ = vmap_seeds(trainer.segment)(jax.vmap(trainer.init)(keys))
    assert np.asarray(state.buffer, np.float32).any()  # something to leave out
    ckpt.save_checkpoint(tmp_path, state, segments_done=1, config={}, omit=in_replay_buffer)
    info = ckpt.read_checkpoint_info(tmp_path)
    assert info.omitted == (".buffer",)
    with np.load(tmp_path / info.state_file) as data:
        assert len(data.files) == len(jax.tree.leaves(state)) - 1
    loaded, _ = ckpt.load_checkpoint(tmp_path, jax.eval_shape(jax.vmap(trainer.init), keys))
    assert loaded.buffer.dtype == jnp.bfloat16 and loaded.buffer.shape == (2, 4)
    assert not np.asarray(loaded.buffer, np.float32).any()
    np.testing.assert_array_equal(loaded.acc, state.acc)
    np.testing.assert_array_equal(jax.random.key_data(loaded.key), jax.random.key_data(state.key))
    with pytest.raises(ValueError, match=r"\.key is a PRNG key"):
        ckpt.save_checkpoint(tmp_path, state, segments_done=1, config={}, omit=lambda _: True)


def test_checkpoint_refuses_a_different_state_or_schema(tmp_path):
    trainer = make_fake_trainer(3)
    state = jax.vmap(trainer.init)(jax.random.split(jax.random.key(0), 2))
    ckpt.save_checkpoint(tmp_path, state, segments_done=1, config={})
    other = jax.eval_shape(jax.vmap(trainer.init), jax.random.split(jax.random.key(0), 3))
    with pytest.raises(ValueError, match=r"checkpoint leaf .* does not match"):
        ckpt.load_checkpoint(tmp_path, other)
    with pytest.raises(ValueError, match="state leaves"):
        ckpt.load_checkpoint(tmp_path, {"only": other.counter})
    meta = json.loads((tmp_path / "latest.json").read_text())
    meta["schema_version"] = ckpt.SCHEMA_VERSION + 1
    (tmp_path / "latest.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="schema version"):
        ckpt.read_checkpoint_info(tmp_path)
    assert ckpt.read_checkpoint_info(tmp_path / "none") is None


# ------------------------------------------------------------------------------ runner
def test_run_writes_the_run_directory(tmp_path):
    config = fake_config(6, num_seeds=2, plot_every=2)
    root = run(config, tmp_path / "run")
    assert root == tmp_path / "run"
    assert load_config(root / "config.yaml") == config.replace(out_dir=str(root))
    runs = metrics_of(root, 2)
    assert [r["segment"] for r in runs[0]] == [1, 2, 3, 4, 5, 6]
    assert [r["env_steps"] for r in runs[1]] == [10, 20, 30, 40, 50, 60]
    assert all(r["wall_time_s"] >= 0 for r in read_jsonl(root / "seed_0" / "metrics.jsonl"))
    assert runs[0] != runs[1]  # the seeds draw different numbers
    assert (root / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    info = ckpt.read_checkpoint_info(root / "checkpoints")
    assert (info.segments_done, info.env_steps) == (6, 60)
    assert info.omitted == (".buffer",)  # a finished run's replay buffers are left out
    steps, values = load_curves(root)
    assert steps.tolist() == [10, 20, 30, 40, 50, 60] and values.shape == (2, 6)


def test_same_config_gives_same_numbers_and_seed_changes_them(tmp_path):
    a = metrics_of(run(fake_config(4, num_seeds=2), tmp_path / "a"), 2)
    b = metrics_of(run(fake_config(4, num_seeds=2), tmp_path / "b"), 2)
    c = metrics_of(run(fake_config(4, num_seeds=2, seed=1), tmp_path / "c"), 2)
    assert a == b
    assert a[0] != c[0]


class Crash(Exception):
    pass


def crash_at(segment: int):
    def hook(done, records):
        if done == segment:
            raise Crash

    return hook


@pytest.mark.parametrize("checkpoint_every", [1, 2, 4])
def test_resume_after_a_crash_equals_an_uninterrupted_run(tmp_path, checkpoint_every):
    config = fake_config(7, num_seeds=3, checkpoint_every=checkpoint_every)
    reference = metrics_of(run(config, tmp_path / "ref"), 3)

    out = tmp_path / "crashed"
    with pytest.raises(Crash):
        run(config, out, on_segment=crash_at(5))
    assert count_jsonl(out / "seed_0" / "metrics.jsonl") == 5
    saved = ckpt.read_checkpoint_info(out / "checkpoints").segments_done
    assert saved == 4 // checkpoint_every * checkpoint_every
    with open(out / "seed_1" / "metrics.jsonl", "a") as f:
        f.write('{"segment": 6, "env_st')  # torn line of a kill -9
    run(None, out, resume=True)
    assert metrics_of(out, 3) == reference
    assert ckpt.read_checkpoint_info(out / "checkpoints").segments_done == 7


#: what `rewrite_software` writes into a checkpoint's metadata
OTHER_SOFTWARE = "marta 0.0.1 (jax 0.4.1, jaxlib 0.4.1)"


def rewrite_software(checkpoints: Path) -> None:
    """Makes the checkpoint in `checkpoints` claim `OTHER_SOFTWARE` wrote it."""
    meta_path = checkpoints / ckpt.METADATA_FILE
    meta = json.loads(meta_path.read_text())
    meta["software"] = OTHER_SOFTWARE
    meta_path.write_text(json.dumps(meta))


def test_resume_warns_when_other_software_versions_wrote_the_checkpoint(tmp_path):
    config = fake_config(4, checkpoint_every=1)
    reference = metrics_of(run(config, tmp_path / "ref"), 1)
    out = tmp_path / "x"
    with pytest.raises(Crash):
        run(config, out, on_segment=crash_at(3))
    info = ckpt.read_checkpoint_info(out / "checkpoints")
    assert info.software == software_versions()
    rewrite_software(out / "checkpoints")
    with pytest.warns(ResumeWarning, match=r"written by marta 0\.0\.1 \(jax 0\.4\.1"):
        run(None, out, resume=True)
    assert metrics_of(out, 1) == reference


def test_resume_with_the_same_software_versions_does_not_warn(tmp_path):
    config = fake_config(3, checkpoint_every=1)
    with pytest.raises(Crash):
        run(config, tmp_path / "x", on_segment=crash_at(2))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResumeWarning)
        run(None, tmp_path / "x", resume=True)


def test_resume_before_the_first_checkpoint_starts_from_scratch(tmp_path):
    config = fake_config(3, checkpoint_every=5)
    reference = metrics_of(run(config, tmp_path / "ref"), 1)
    with pytest.raises(Crash):
        run(config, tmp_path / "x", on_segment=crash_at(2))
    assert ckpt.read_checkpoint_info(tmp_path / "x" / "checkpoints") is None
    run(config, tmp_path / "x", resume=True)
    assert metrics_of(tmp_path / "x", 1) == reference


def test_sigint_saves_a_checkpoint_and_resume_completes_the_run(tmp_path):
    config = fake_config(5, num_seeds=2, checkpoint_every=10)
    reference = metrics_of(run(config, tmp_path / "ref"), 2)

    def interrupt(done, records):
        if done == 2:
            signal.raise_signal(signal.SIGINT)

    out = tmp_path / "int"
    stream = io.StringIO()
    previous = signal.getsignal(signal.SIGINT)
    with pytest.raises(RunInterrupted, match=r"after segment 2/5.*marta train --resume"):
        run(config, out, on_segment=interrupt, stream=stream, progress="log")
    assert signal.getsignal(signal.SIGINT) is previous  # handler restored
    assert "finishing the current segment" in stream.getvalue()
    assert ckpt.read_checkpoint_info(out / "checkpoints").segments_done == 2
    run(None, out, resume=True)
    assert metrics_of(out, 2) == reference


def test_resuming_a_finished_run_changes_nothing(tmp_path):
    out = run(fake_config(3), tmp_path / "r")
    before = (out / "seed_0" / "metrics.jsonl").read_bytes()
    run(None, out, resume=True)
    assert (out / "seed_0" / "metrics.jsonl").read_bytes() == before
    # kept without its checkpoints (as results/ keeps runs): still finished, not restarted
    shutil.rmtree(out / "checkpoints")
    stream = io.StringIO()
    run(None, out, resume=True, stream=stream, progress="log")
    assert "already complete (3 segments)" in stream.getvalue()
    assert (out / "seed_0" / "metrics.jsonl").read_bytes() == before
    assert not (out / "checkpoints").exists()


def test_non_finite_metric_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    config = fake_config(6, num_seeds=2)
    out = tmp_path / "nan"
    with pytest.raises(NonFiniteMetricError) as err:
        run(config, out, make_trainer=fake_factory(nan_segment=4))
    message = str(err.value)
    for part in ("loss", "nan", "segment 4/6", "env step 40", "checkpoint (segment 3)"):
        assert part in message
    assert count_jsonl(out / "seed_0" / "metrics.jsonl") == 3
    assert ckpt.read_checkpoint_info(out / "checkpoints").segments_done == 3
    # with the check off the run completes and records the NaN
    run(fake_config(6, check_finite=False), tmp_path / "off", make_trainer=fake_factory(4))
    losses = [r["loss"] for r in read_jsonl(tmp_path / "off" / "seed_0" / "metrics.jsonl")]
    assert np.isnan(losses[3]) and np.isfinite(losses[2]) and len(losses) == 6


def test_full_disk_stops_with_a_resumable_error(tmp_path, monkeypatch):
    config = fake_config(6, num_seeds=2)
    reference = metrics_of(run(config, tmp_path / "ref"), 2)
    real_fsync, disk = os.fsync, {"full": False}

    def fsync(fd):
        if disk["full"]:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_fsync(fd)

    def fill_disk_at_segment_3(done, records):
        disk["full"] = done == 3  # metrics of segment 3 are written, its checkpoint is not

    monkeypatch.setattr(os, "fsync", fsync)
    out = tmp_path / "full"
    with pytest.raises(DiskFullError) as err:
        run(config, out, on_segment=fill_disk_at_segment_3)
    for part in ("no space left", "checkpoint is kept (segment 2)", f"--resume {out}"):
        assert part in str(err.value)
    assert ckpt.read_checkpoint_info(out / "checkpoints").segments_done == 2
    assert not list((out / "checkpoints").glob("*.tmp"))
    disk["full"] = False
    run(None, out, resume=True)
    assert metrics_of(out, 2) == reference


def test_refuses_to_overwrite_a_run_unless_forced(tmp_path):
    out = run(fake_config(3), tmp_path / "r")
    with pytest.raises(ValueError, match="already holds a run of this config; use --resume"):
        run(fake_config(3), out)
    with pytest.raises(ValueError, match=r"different config \(differs in seed\)"):
        run(fake_config(3, seed=4), out)

    def broken(config):
        raise ValueError("the trainer cannot be built")

    with pytest.raises(ValueError, match="cannot be built"):
        run(fake_config(4, seed=4), out, force=True, make_trainer=broken)
    assert count_jsonl(out / "seed_0" / "metrics.jsonl") == 3  # nothing deleted yet
    run(fake_config(4, seed=4), out, force=True)
    assert count_jsonl(out / "seed_0" / "metrics.jsonl") == 4
    assert load_config(out / "config.yaml").seed == 4
    with pytest.raises(ValueError, match="differs from the given config in seed"):
        run(fake_config(4, seed=5), out, resume=True)


def test_bad_output_directory_fails_before_building_the_trainer(tmp_path):
    built = []
    factory = lambda config: built.append(config) or FACTORY(config)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="cannot write to output directory"):
        run(fake_config(2), tmp_path / "file" / "run", make_trainer=factory)
    with pytest.raises(ValueError, match="not a directory"):
        run(fake_config(2), tmp_path / "file", make_trainer=factory)
    with pytest.raises(ValueError, match="nothing to resume"):
        run(None, tmp_path / "empty", resume=True, make_trainer=factory)
    assert built == []


def test_tensorboard_missing_is_a_clear_error_before_training(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)  # import fails, find_spec too
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "tensorboardX" else real(n, *a)
    )
    with pytest.raises(ValueError, match="tensorboardX, which is not installed"):
        run(fake_config(2), tmp_path / "tb", tensorboard=True)
    assert not (tmp_path / "tb" / "config.yaml").exists()


def test_tensorboard_scalars_are_written_per_seed(tmp_path, monkeypatch):
    events = []

    class Writer:
        def __init__(self, logdir, purge_step=None):
            self.logdir, self.purge_step = logdir, purge_step

        def add_scalar(self, name, value, step):
            events.append((Path(self.logdir).name, self.purge_step, name, value, step))

        def flush(self):
            pass

        def close(self):
            pass

    module = types.ModuleType("tensorboardX")
    module.SummaryWriter = Writer
    module.__spec__ = types.SimpleNamespace(name="tensorboardX")
    monkeypatch.setitem(sys.modules, "tensorboardX", module)
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: object() if n == "tensorboardX" else real(n, *a)
    )
    out = tmp_path / "tb"
    with pytest.raises(Crash):
        run(fake_config(4, num_seeds=2, checkpoint_every=2), out, on_segment=crash_at(3))
    run(None, out, resume=True, tensorboard=True)
    got = {(d, p, name, step) for d, p, name, _, step in events}
    assert ("seed_1", 20, "eval_return_mean", 40) in got  # purged from the checkpoint's step
    assert {s for *_, s in got} == {30, 40}
    records = read_jsonl(out / "seed_0" / "metrics.jsonl")
    logged = {(name, step): value for d, _, name, value, step in events if d == "seed_0"}
    assert logged[("loss", 40)] == records[3]["loss"]


def test_progress_log_lines_and_bar(tmp_path):
    stream = io.StringIO()
    run(fake_config(3, num_seeds=2), tmp_path / "log", progress="auto", stream=stream)
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("segment 1/3  env_steps 10  eval_return ")
    assert "ETA ?" in lines[0] and "ETA 0:00" in lines[2]
    stream = io.StringIO()
    run(fake_config(3), tmp_path / "bar", progress="bar", stream=stream)
    assert "3/3" in stream.getvalue()


def test_mean_ci_uses_student_t():
    # standard-table values of t_{0.975, df}
    for df, t in [(1, 12.706), (5, 2.571), (40, 2.021), (60, 2.000), (120, 1.980)]:
        assert abs(t_quantile_975(df) - t) < 2e-3
    values = np.array([[1.0, 2.0], [3.0, 2.0], [5.0, 2.0]])
    mean, low, high = mean_ci(values)
    np.testing.assert_allclose(mean, [3.0, 2.0])
    np.testing.assert_allclose(high - mean, [4.303 * 2.0 / np.sqrt(3), 0.0])
    np.testing.assert_allclose(mean - low, high - mean)


# ------------------------------------------------------------------------------ real trainer
def test_real_trainer_resume_equals_uninterrupted(tmp_path):
    """The real `make_train` (QMIX, tiny sizes): crash + resume reproduces every number."""
    config = build_config(
        {"env_id": "matrix-climbing", "learner_name": "qmix"},
        [
            "env.max_steps=3",
            "train.total_env_steps=40",
            "train.num_envs=2",
            "train.rollout_steps=2",
            "train.eval_interval=8",
            "train.eval_episodes=2",
            "train.learning_starts=0",
            "learner.batch_size=2",
            "learner.buffer_size=8",
            "learner.hidden_dim=8",
            "learner.mixer_embed_dim=4",
            "learner.hypernet_embed_dim=8",
            "num_seeds=2",
            "checkpoint_every=2",
        ],
    )
    trainer = build_trainer(config)
    factory = lambda _: trainer  # one trainer object: compiled once for both runs
    reference = metrics_of(run(config, tmp_path / "ref", make_trainer=factory), 2)
    assert reference[0][-1]["updates"] > 0  # it did learn something in this run
    with pytest.raises(Crash):
        run(config, tmp_path / "x", make_trainer=factory, on_segment=crash_at(3))
    run(None, tmp_path / "x", resume=True, make_trainer=factory)
    assert metrics_of(tmp_path / "x", 2) == reference
    assert os.path.exists(tmp_path / "x" / "checkpoints" / "state-000005.npz")
    # the finished run's checkpoint leaves out the team's replay buffer, and only that; with
    # keep_final_buffers it keeps everything
    paths = RunPaths(tmp_path / "x")
    _, state, info = load_trained(paths, config)
    assert info.omitted and all(name.startswith(".buffer.") for name in info.omitted)
    assert not np.asarray(state.buffer.data.obs).any()
    assert any(np.asarray(leaf).any() for leaf in jax.tree.leaves(state.learner))
    kept = run(config.replace(keep_final_buffers=True), tmp_path / "kept", make_trainer=factory)
    assert ckpt.read_checkpoint_info(kept / "checkpoints").omitted == ()
    assert metrics_of(kept, 2) == reference
