"""`marta gain`: MARTA's gain over its baseline with the seeds of several runs pooled.

    marta gain --baseline RUN_A/baseline RUN_B/baseline --marta RUN_A/marta RUN_B/marta

Each RUN is a `marta train` run directory; a replicate of a Table 2 row with another
``--seed`` adds its seeds to the row's. Prints final return, AUC and scorecard columns with
95% bootstrap CIs (`marta.reproduce.pooled`). Nothing is trained.
"""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "gain",
        help="MARTA vs baseline over the seeds of several run directories pooled",
        description=(
            "Pool the seeds of run directories per method and print the final return, AUC\n"
            "and scorecard columns (mean ± std, 95% bootstrap CI) with MARTA's gain over\n"
            "the baseline and its 95% bootstrap CI."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--baseline", nargs="+", required=True, metavar="DIR", help="baseline runs")
    p.add_argument("--marta", nargs="+", required=True, metavar="DIR", help="MARTA runs")
    p.add_argument("--markdown", action="store_true", help="print a Markdown table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from marta.experiments.table import format_table
    from marta.reproduce.pooled import pooled_comparison

    rows = pooled_comparison(args.baseline, args.marta)
    print(format_table(rows, markdown=args.markdown))
    return 0
