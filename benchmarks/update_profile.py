"""Where one value-learner update spends its time, operation by operation (XLA's profile).

Compiles the update the trainer runs (`update_flops.seed_update`: vmapped over seeds, a batch
of full-length random episodes), runs it a few times under ``jax.profiler`` and prints the
operations that took the most time, per update: total milliseconds, calls per update, and
the operation's name in the compiled program (``dot.N``: a matrix product; ``ynn_fusion.N``,
``..._fusion``: fused elementwise work or products; ``while.N``: a ``scan`` loop, counted
without the operations of its body, which are listed on their own):

    python benchmarks/update_profile.py --env tj-4 --learner vdn [--top 25]

Run it pinned to one core (``taskset -c 0``) with XLA single-threaded, as training runs.
"""

from __future__ import annotations

import collections
import glob
import gzip
import json
import tempfile

import jax
from update_flops import best_time, seed_update, update_parser  # benchmarks/, run as a script

import marta.envs
from marta.learners import ValueLearnerConfig

CALLS = 3


def profile(env_id: str, learner_name: str, seeds: int, repeats: int, top: int) -> None:
    """Prints the best update time and the `top` operations by total time per update."""
    env = marta.envs.make(env_id)
    update, args = seed_update(env, learner_name, ValueLearnerConfig(), seeds)
    print(f"{env_id}: update {best_time(update, *args, repeats=repeats) * 1e3:.1f} ms (best)")
    with tempfile.TemporaryDirectory() as trace_dir:
        with jax.profiler.trace(trace_dir, create_perfetto_trace=True):
            for _ in range(CALLS):
                jax.block_until_ready(update(*args))
        (trace,) = glob.glob(f"{trace_dir}/**/perfetto_trace.json.gz", recursive=True)
        with gzip.open(trace) as f:
            events = json.load(f)
    events = events["traceEvents"] if isinstance(events, dict) else events
    ops = [e for e in events if e.get("ph") == "X" and not e["name"].startswith(("$", "Thunk"))]
    total, calls = collections.Counter(), collections.Counter()
    for event, microseconds in exclusive_times(ops):
        total[event["name"]] += microseconds
        calls[event["name"]] += 1
    print(f"{'ms/update':>10}  {'calls':>6}  operation (time outside the operations it contains)")
    for name, microseconds in total.most_common(top):
        print(f"{microseconds / CALLS / 1e3:10.2f}  {calls[name] // CALLS:6d}  {name[:80]}")
    print(f"{sum(total.values()) / CALLS / 1e3:10.2f}          all operations")


def exclusive_times(ops: list[dict]) -> list[tuple[dict, float]]:
    """(event, its duration less that of the events nested in it) for trace events `ops`: a
    ``while`` loop's event spans the operations of its body, which have their own events."""
    out: list[list] = []
    stack: list[list] = []  # [event, end, child time] of the enclosing events
    for event in sorted(ops, key=lambda e: (e.get("tid"), e["ts"], -e.get("dur", 0))):
        end = event["ts"] + event.get("dur", 0)
        while stack and (stack[-1][0].get("tid") != event.get("tid") or stack[-1][1] < end):
            stack.pop()
        if stack:
            stack[-1][2] += event.get("dur", 0)
        entry = [event, end, 0.0]
        stack.append(entry)
        out.append(entry)
    return [(event, event.get("dur", 0) - child) for event, _, child in out]


def main() -> None:
    parser = update_parser(__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=25, help="operations to list (25)")
    args = parser.parse_args()
    for env_id in args.env or ["tj-4"]:
        profile(env_id, args.learner, args.seeds, args.repeats, args.top)


if __name__ == "__main__":
    main()
