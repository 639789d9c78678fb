"""`marta gain`: MARTA's gain over its baseline with the seeds of several runs pooled.

    marta gain --baseline RUN_A/baseline RUN_B/baseline --marta RUN_A/marta RUN_B/marta
    marta gain --outputs runs/fast runs/fast-s3

Each RUN is a `marta train` run directory; a replicate of a Table 2 row with another
``--seed`` adds its seeds to the row's. Prints final return, AUC, best evaluation (the
paper's "best-performing checkpoint") and scorecard columns with 95% bootstrap CIs
(`marta.reproduce.pooled`). With ``--outputs`` (the --out directories of `marta reproduce`
replicates, ``--seed``), final return, AUC and best evaluation of every Table 2 row they all
hold. Directories of one method whose configs differ in more than the seed are pooled
with a warning on stderr naming the fields. Nothing is trained.
"""

from __future__ import annotations

import argparse
import warnings


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "gain",
        help="MARTA vs baseline over the seeds of several run directories pooled",
        description=(
            "Pool the seeds of run directories per method and print the final return, AUC,\n"
            "best evaluation and scorecard columns (mean ± std, 95% bootstrap CI) with\n"
            "MARTA's gain over the baseline and its 95% bootstrap CI."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--baseline", nargs="+", action="extend", metavar="DIR", help="baseline runs (repeatable)"
    )
    p.add_argument(
        "--marta", nargs="+", action="extend", metavar="DIR", help="MARTA runs (repeatable)"
    )
    p.add_argument(
        "--outputs",
        nargs="+",
        action="extend",
        metavar="OUT",
        help="instead of --baseline/--marta: marta reproduce outputs of one budget (replicates "
        "with --seed); every Table 2 row they all hold",
    )
    p.add_argument("--markdown", action="store_true", help="print a Markdown table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from marta.cli import CliError
    from marta.experiments.table import format_table
    from marta.reproduce.pooled import PoolingWarning, pooled_comparison, pooled_table2

    if args.outputs is not None and (args.baseline or args.marta):
        raise CliError("give --outputs or --baseline/--marta, not both")
    if args.outputs is None and (args.baseline is None or args.marta is None):
        raise CliError("give --baseline DIR... and --marta DIR..., or --outputs OUT...")
    with warnings.catch_warnings():
        warnings.simplefilter("always", PoolingWarning)  # every row and field left out
        if args.outputs is not None:
            rows = pooled_table2(args.outputs)
        else:
            rows = pooled_comparison(args.baseline, args.marta)
    print(format_table(rows, markdown=args.markdown))
    return 0
