"""Shared test setup: keep XLA to one thread per test worker (2-core machines)."""

import os

os.environ.setdefault(
    "XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
)
