"""Time of a late training segment with and without the batch cut (`learner.length_buckets`,
`learner.length_groups`).

Loads a run's latest checkpoint (its replay buffer holds the episodes of a trained team),
overrides ``learner.length_buckets`` and ``learner.length_groups`` and times the compiled
segment as the runner runs it (the first call with compilation, then the best of two):

    python benchmarks/late_segment.py runs/paper/table2-lbf-qmix/baseline --length-buckets 1
    python benchmarks/late_segment.py runs/paper/table2-lbf-qmix/baseline --length-buckets 3
    python benchmarks/late_segment.py runs/paper/table2-lbf-qmix/baseline --length-groups 4

Run each pinned to one core (``taskset -c N``) with XLA single-threaded, as training runs.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import jax

from marta.experiments.bench import segment_times
from marta.experiments.config import load_config
from marta.experiments.runner import RunPaths, compiled, load_trained


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="run directory with a checkpoint")
    parser.add_argument("--length-buckets", type=int, default=3)
    parser.add_argument("--length-groups", type=int, default=1)
    args = parser.parse_args()
    jax.config.update("jax_enable_compilation_cache", False)
    paths = RunPaths(Path(args.run))
    config = load_config(paths.config)
    learner = dataclasses.replace(
        config.learner, length_buckets=args.length_buckets, length_groups=args.length_groups
    )
    trainer, state, _ = load_trained(paths, config.replace(learner=learner))
    first, best, metrics = segment_times(compiled(trainer)[1], state, repeats=2)
    returns = [round(float(x), 3) for x in metrics["eval_return_mean"]]
    print(
        f"{args.run} length_buckets={args.length_buckets} length_groups={args.length_groups}: "
        f"first call (compiling) {first:.1f} s, "
        f"segment {best:.2f} s, eval returns {returns}"
    )


if __name__ == "__main__":
    main()
