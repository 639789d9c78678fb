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
