"""Shared test setup: keep XLA to one thread per test worker (2-core machines), and share
one persistent compilation cache between the test workers and the commands they start
(`.cache/jax` in the repository unless $MARTA_COMPILE_CACHE says otherwise)."""

import os
from pathlib import Path

os.environ.setdefault(
    "XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
)

os.environ.setdefault("MARTA_COMPILE_CACHE", str(Path(__file__).parents[1] / ".cache" / "jax"))

from marta.experiments.compile_cache import enable_compile_cache, resolve_cache_dir  # noqa: E402

enable_compile_cache(resolve_cache_dir())

#: the longest test files first (measured with --durations), so that `pytest -n 2 --dist
#: loadfile` hands them out early and the two workers finish together; order only, a stale
#: entry costs balance, not correctness
LONGEST_FIRST = (
    "test_env_api.py",
    "test_reproduce.py",
    "test_train.py",
    "test_marta.py",
    "test_trim.py",
    "test_learners.py",
    "test_activation_map.py",
    "test_faults_properties.py",
    "test_switcher.py",
    "test_maddpg.py",
    "test_bench.py",
    "test_plugins.py",
    "test_runner.py",
    "test_eval.py",
    "test_lbf.py",
    "test_compile_cache.py",
)


def pytest_collection_modifyitems(items: list) -> None:
    """Runs the files of `LONGEST_FIRST` first, in that order (stable within each file)."""
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))
