"""`marta bench envs`: environment throughput against the reference implementations."""

from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path

from marta.cli import CliError

SECTION = "envs"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="measure throughput (env steps/s) against references")
    p.add_argument("what", choices=["envs"], help="what to benchmark")
    p.add_argument(
        "--env",
        action="append",
        dest="env_ids",
        help="env id to benchmark (repeatable; default: every env with a benchmark case)",
    )
    p.add_argument(
        "--batch", type=int, action="append", dest="batches", help="batch sizes (default 1 64 1024)"
    )
    p.add_argument(
        "--jumanji-python",
        type=Path,
        help="python of a separate venv with jumanji installed: also time Jumanji's JAX LBF "
        "(benchmarks/jumanji_lbf.py) on 6x6-4p-1f against ours in the same run",
    )
    p.add_argument("--write", type=Path, help="update this Markdown file (e.g. BENCHMARKS.md)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import marta.envs
    from marta.experiments import bench
    from marta.experiments.table import format_table

    env_ids = args.env_ids or [e for e in bench.CASES if e in marta.envs.ENVS]
    unknown = [e for e in env_ids if e not in marta.envs.ENVS]
    if unknown:
        raise CliError(
            f"--env: unknown id {unknown[0]!r}; valid ids: {', '.join(sorted(marta.envs.ENVS))}"
        )
    batches = tuple(args.batches or (1, 64, 1024))
    if any(b < 1 for b in batches):
        raise CliError(f"--batch must be >= 1, got {batches}")
    log = lambda s: print(s, file=sys.stderr)
    rows = bench.bench_envs(env_ids, batches, log=log)
    if args.jumanji_python:
        rows += bench.bench_jumanji_lbf(str(args.jumanji_python), batches, log=log)
    table = format_table(rows, markdown=True)
    print(table)
    if args.write:
        command = "marta bench envs " + " ".join(
            [f"--env {e}" for e in (args.env_ids or [])]
            + [f"--batch {b}" for b in (args.batches or [])]
            + ([f"--jumanji-python {args.jumanji_python}"] if args.jumanji_python else [])
        )
        body = (
            f"Measured {datetime.date.today()} on {bench.machine_description()}.\n"
            f"Command: `{command.strip()}` (random policy; env steps/s, best of 3 after compile; "
            "reference = single env in a Python loop, measured in the same run).\n\n" + table
        )
        update_section(args.write, SECTION, body)
        print(f"wrote {args.write}", file=sys.stderr)
    return 0


def update_section(path: Path, name: str, body: str) -> None:
    """Replaces the block between `<!-- bench:NAME -->` markers in `path` (appends if absent)."""
    from marta.experiments.io import atomic_write_text

    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    block = f"{start}\n{body}\n{end}"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    atomic_write_text(path, text)
