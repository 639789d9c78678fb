"""Kill -9 safety of `marta train` as a real subprocess (issue: reliability).

A run is killed with SIGKILL at a (seeded) random moment after its first checkpoint, rerun
with `--resume`, and must end with exactly the metrics of an uninterrupted run: no duplicated
or missing evaluations, no torn files, value for value equal.
"""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ARGS = [
    "train",
    "--env",
    "matrix-climbing",
    "--learner",
    "iql",
    "--steps",
    "16000",
    "--seeds",
    "2",
    "--num-envs",
    "8",
    "--eval-interval",
    "400",
    "--eval-episodes",
    "8",
]


def _marta(args: list[str], cache: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        # share compiled programs between the three processes (a cache, not a result)
        "JAX_COMPILATION_CACHE_DIR": str(cache),
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
        "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
    }
    code = "import sys; from marta.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _metrics(run: Path, seed: int) -> list[dict]:
    lines = (run / f"seed_{seed}" / "metrics.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]  # a torn line would fail here
    for r in records:
        r.pop("wall_time_s")
    return records


def test_sigkill_then_resume_equals_an_uninterrupted_run(tmp_path):
    cache = tmp_path / "jax-cache"
    full, crashed = tmp_path / "full", tmp_path / "crashed"

    proc = _marta([*ARGS, "--out", str(full)], cache)
    assert proc.wait(timeout=600) == 0, proc.stderr.read()

    proc = _marta([*ARGS, "--out", str(crashed)], cache)
    latest = crashed / "checkpoints" / "latest.json"
    deadline = time.monotonic() + 600
    while not latest.exists():
        assert proc.poll() is None, f"run ended before its first checkpoint: {proc.stderr.read()}"
        assert time.monotonic() < deadline, "no checkpoint within 600 s"
        time.sleep(0.05)
    time.sleep(random.Random(0).uniform(0.0, 0.5))
    if proc.poll() is not None:
        pytest.fail("the run finished before it could be killed; make it longer")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = [
        len((crashed / f"seed_{s}" / "metrics.jsonl").read_text().splitlines()) for s in (0, 1)
    ]

    proc = _marta(["train", "--resume", str(crashed)], cache)
    assert proc.wait(timeout=600) == 0, proc.stderr.read()

    for seed in (0, 1):
        ours, reference = _metrics(crashed, seed), _metrics(full, seed)
        assert [r["segment"] for r in ours] == list(range(1, len(reference) + 1))
        assert ours == reference, f"seed {seed}: resumed run differs (killed after {killed_at})"
