"""`marta demo`: the small default job behind `make demo`: MARTA-QMIX vs QMIX under faults.

Runs the `table2-lbf-qmix` preset (Table 1 row 4: `lbf-5x5-4p-1f`, complex selection,
p = 0.2; the baseline QMIX trained with uniform faults, MARTA-QMIX with the Switcher and
worst-case faults) at the `demo` budget (3 seeds, 100k env steps; `marta presets --budget
demo`) through `marta reproduce`'s local backend (one single-threaded worker per core), then
prints both scorecards side by side (the final greedy team under no, uniform and worst-case
faults) and writes `OUT/report.md` and the learning curves `OUT/figures/`. Rerunning resumes
or skips finished runs, like `marta reproduce`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="MARTA-QMIX vs QMIX on LBF under faults, a few minutes (what `make demo` runs)",
    )
    p.add_argument("--out", type=Path, default=Path("runs/demo"), help="output directory")
    p.add_argument("--preset", default="table2-lbf-qmix", help="a table2 preset (marta presets)")
    p.add_argument("--budget", default="demo", help="compute budget (default: demo)")
    p.add_argument("--force", action="store_true", help="replace runs of another config")
    p.set_defaults(func=run)


def scorecard_rows(out: Path, preset: str) -> list[dict]:
    """One row per fault type: each run's scorecard mean ± sd over seeds and MARTA's gain."""
    from marta.reproduce.metrics import gain_pct

    cards = {
        name: json.loads((out / preset / name / "scorecard.json").read_text(encoding="utf-8"))
        for name in ("baseline", "marta")
    }
    rows = []
    for fault in cards["baseline"]["returns"]:
        base, ours = (cards[name]["returns"][fault] for name in ("baseline", "marta"))
        rows.append(
            {
                "evaluation faults": fault,
                "baseline": f"{base['mean']:.3f} ± {base['std']:.3f}",
                "MARTA": f"{ours['mean']:.3f} ± {ours['std']:.3f}",
                "gain %": round(gain_pct(ours["mean"], base["mean"]), 1),
            }
        )
    return rows


def run(args: argparse.Namespace) -> int:
    from marta.cli import CliError
    from marta.experiments.table import format_table
    from marta.reproduce.presets import select_presets
    from marta.reproduce.report import write_report
    from marta.reproduce.runs import reproduce

    try:
        presets = select_presets([args.preset])
        summary = reproduce(presets, args.budget, args.out, force=args.force)
    except ValueError as err:
        raise CliError(str(err)) from None
    if summary.failed or summary.interrupted:
        print(f"marta demo: not finished ({', '.join(summary.failed) or 'interrupted'}); "
              f"rerun `marta demo --out {args.out}` to resume", file=sys.stderr)  # fmt: skip
        return 1
    report = write_report(args.out)
    fault_p = json.loads((args.out / args.preset / "marta" / "scorecard.json").read_text())
    print(f"\n{args.preset}: final greedy team, mean ± sd over seeds "
          f"(evaluation p = {fault_p.get('fault_p')})")  # fmt: skip
    print(format_table(scorecard_rows(args.out, args.preset)))
    figures = sorted(p.name for p in (args.out / "figures").glob("*.png"))
    print(f"\nwrote {report} and {args.out / 'figures'}/ ({', '.join(figures)})", file=sys.stderr)
    return 0
