"""The persistent compilation cache of marta's commands (marta/experiments/compile_cache.py):
where it goes, how it is turned off, and that a run loading its compiled programs from the
cache gives the numbers of the run that compiled them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from marta.experiments.compile_cache import ENV_VAR, resolve_cache_dir
from marta.experiments.io import read_jsonl


def test_the_flag_beats_the_environment_which_beats_the_default(monkeypatch, tmp_path):
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.delenv("JAX_COMPILATION_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert resolve_cache_dir() == tmp_path / "xdg" / "marta" / "jax"
    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(tmp_path / "jax"))
    assert resolve_cache_dir() == tmp_path / "jax"
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "env"))
    assert resolve_cache_dir() == tmp_path / "env"
    assert resolve_cache_dir(tmp_path / "flag") == tmp_path / "flag"
    assert resolve_cache_dir("~/c") == Path.home() / "c"


def test_none_turns_it_off(monkeypatch):
    assert resolve_cache_dir("none") is None and resolve_cache_dir("None") is None
    monkeypatch.setenv(ENV_VAR, "none")
    assert resolve_cache_dir() is None


def _train(out: Path, cache: str | None) -> subprocess.CompletedProcess:
    """A tiny `marta train` in a fresh process whose default cache is under out/../xdg."""
    cmd = [sys.executable, "-m", "marta.cli", "train", "--env", "matrix-climbing"]
    cmd += ["--learner", "qmix", "--steps", "64", "--seeds", "2", "--out", str(out)]
    cmd += ["--progress", "none", "--eval-interval", "32", "--eval-episodes", "2"]
    cmd += ["--num-envs", "4", "train.rollout_steps=8", "train.learning_starts=0"]
    cmd += [] if cache is None else ["--compile-cache", cache]
    env = {k: v for k, v in os.environ.items() if k not in (ENV_VAR, "JAX_COMPILATION_CACHE_DIR")}
    env["XDG_CACHE_HOME"] = str(out.parent / "xdg")
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)


def test_a_run_from_the_cache_equals_the_run_that_filled_it(tmp_path):
    cache = tmp_path / "xdg" / "marta" / "jax"  # the default place
    first = _train(tmp_path / "a", None)
    assert first.returncode == 0, first.stderr
    entries = sorted(p.name for p in cache.glob("*-cache"))
    assert any(name.startswith("jit_segment") for name in entries), entries
    second = _train(tmp_path / "b", str(cache))
    assert second.returncode == 0, second.stderr
    assert sorted(p.name for p in cache.glob("*-cache")) == entries  # nothing recompiled
    for k in range(2):
        a = read_jsonl(tmp_path / "a" / f"seed_{k}" / "metrics.jsonl")
        b = read_jsonl(tmp_path / "b" / f"seed_{k}" / "metrics.jsonl")
        strip = {"wall_time_s", "segment_time_s"}
        assert [{k: v for k, v in r.items() if k not in strip} for r in a] == [
            {k: v for k, v in r.items() if k not in strip} for r in b
        ]


def test_none_leaves_jax_without_a_cache(monkeypatch):
    """`--compile-cache none` (-> None) never points JAX at a directory."""
    import jax

    from marta.experiments.compile_cache import enable_compile_cache

    def refuse(name, value):
        raise AssertionError(f"jax.config.update({name!r}, {value!r}) with the cache off")

    monkeypatch.setattr(jax.config, "update", refuse)
    enable_compile_cache(resolve_cache_dir("none"))


def test_an_entry_left_without_its_access_time_is_repaired(tmp_path):
    """A process killed between JAX writing an entry and its ``-atime`` file used to stop the
    cache from ever growing again: JAX's eviction, run on every write, reads every entry's
    access time. `repair_orphans` (called by `enable_compile_cache`) gives it one."""
    from jax._src.lru_cache import LRUCache

    from marta.experiments.compile_cache import MAX_BYTES, repair_orphans

    (tmp_path / "jit_kept-1-cache").write_bytes(b"kept")
    (tmp_path / "jit_kept-1-atime").write_bytes((7).to_bytes(8, "little"))
    orphan = tmp_path / "jit_killed-2-cache"
    orphan.write_bytes(b"orphan")
    cache = LRUCache(str(tmp_path), max_size=MAX_BYTES)
    try:
        cache.put("jit_new-3", b"new")
    except FileNotFoundError:
        pass  # the failure being repaired (if JAX stops failing here, the repair can go)
    else:
        raise AssertionError("JAX's cache now writes beside an orphan: drop repair_orphans")

    assert repair_orphans(tmp_path) == ["jit_killed-2"]
    atime = int.from_bytes((tmp_path / "jit_killed-2-atime").read_bytes(), "little")
    assert atime == orphan.stat().st_mtime_ns
    assert int.from_bytes((tmp_path / "jit_kept-1-atime").read_bytes(), "little") == 7
    cache.put("jit_new-3", b"new")
    assert cache.get("jit_new-3") == b"new"
    assert repair_orphans(tmp_path) == [] and repair_orphans(tmp_path / "absent") == []


def test_a_cache_that_cannot_be_locked_is_left_as_it_is_with_a_warning(tmp_path, monkeypatch):
    """The repair is best effort, like JAX's cache: a directory it cannot lock or write (a
    read-only one, say) must not stop the command that uses it."""
    import filelock

    from marta.experiments import compile_cache

    (tmp_path / "jit_killed-2-cache").write_bytes(b"orphan")

    def refuse(*args, **kwargs):
        raise PermissionError("read-only file system")

    monkeypatch.setattr(filelock, "FileLock", refuse)
    with pytest.warns(UserWarning, match="could not repair the compile cache"):
        assert compile_cache.repair_orphans(tmp_path) == []
    assert not (tmp_path / "jit_killed-2-atime").exists()
