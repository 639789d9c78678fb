"""Cost of the runner's non-finite metric check (`check_finite`), for BENCHMARKS.md.

The check runs on the host after every segment, over the records of all seeds. This script
replays the records of a finished run directory through it and compares its time with the
segments' own wall time (``wall_time_s`` in the same records):

    python benchmarks/nan_check.py runs/gain/marta-qmix
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

import numpy as np

from marta.experiments.io import read_jsonl
from marta.experiments.runner import RunPaths, _check_finite


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run", type=Path, help="a run directory written by marta train")
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    seeds = sorted(p for p in args.run.glob("seed_*") if re.fullmatch(r"seed_\d+", p.name))
    per_seed = [read_jsonl(p / "metrics.jsonl") for p in seeds]
    segments = list(zip(*per_seed, strict=False))  # one tuple of per-seed records per segment
    paths = RunPaths(args.run)
    begin = time.perf_counter()
    for _ in range(args.repeats):
        for n, records in enumerate(segments, 1):
            _check_finite(list(records), n, len(segments), paths, n - 1)
    check_s = (time.perf_counter() - begin) / (args.repeats * len(segments))
    segment_s = float(np.median([records[0]["wall_time_s"] for records in segments[1:]]))
    fields = len(segments[0][0])
    print(
        f"{args.run}: {len(seeds)} seeds x {fields} metrics per segment; check "
        f"{check_s * 1e6:.1f} us per segment, median segment {segment_s:.2f} s "
        f"-> {100 * check_s / segment_s:.5f}% of the run time"
    )


if __name__ == "__main__":
    main()
