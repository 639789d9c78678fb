"""`marta report DIR`: rebuild ``DIR/report.md`` and ``DIR/figures/`` from the runs on disk.

    marta report runs/reproduce-quick

DIR is the ``--out`` of `marta reproduce` (which also calls this at its end). Nothing is
trained; runs still going, failed or missing are shown as such. See docs/reproduce.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="write DIR/report.md and DIR/figures/*.png from a reproduce output directory",
        description=(
            "Build the reproduction report from run directories only: Table 2 next to the\n"
            "paper's numbers (final return, AUC, gains, 95% bootstrap CIs), every run's\n"
            "status, the scorecards, and the figures of each experiment (PNG)."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("dir", metavar="DIR", help="output directory of marta reproduce")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from marta.reproduce.report import write_report

    path = write_report(Path(args.dir))
    print(f"wrote {path} and {path.parent / 'figures'}/")
    return 0
