"""`marta reproduce`: run the paper's experiments (presets) and write the report.

    marta reproduce --budget smoke --out runs/smoke
    marta reproduce --only table2 fig3-p-sweep --budget quick --out runs/quick
    marta reproduce --budget paper --out /shared/marta --backend ray --address auto
    marta reproduce --only table2 --budget fast --seed 3 --out runs/fast-s3   # a replicate
    marta reproduce --only table2-mpe-maddpg --budget paper --out runs/k1 \
        --set marta.switcher.reward_scale=1                                  # a variant
    marta --plugin my_envs reproduce --presets my_presets --budget quick --out runs/mine

Finished runs are skipped and interrupted ones resumed when the command is run again; runs
of a different config in --out are refused unless --force. Exit status: 0 every run done,
1 a run failed (the others still ran) or the report failed, 2 invalid input, 130
interrupted. See docs/reproduce.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from marta.cli import CliError


def add_parser(sub: argparse._SubParsersAction) -> None:
    from marta.reproduce.presets import BUDGETS

    p = sub.add_parser(
        "reproduce",
        help="run the paper's experiments (marta presets) and write report.md",
        description=(
            "Run every run of the chosen presets (default: all; see `marta presets`) under a\n"
            "compute budget into OUT/<preset>/<run>/, then write OUT/report.md and\n"
            "OUT/figures/ (marta report). Rerunning skips finished runs and resumes\n"
            "interrupted ones. Exit status: 0 all done, 1 a run or the report failed,\n"
            "2 invalid input, 130 interrupted (rerun to resume)."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--only",
        nargs="+",
        action="extend",
        metavar="NAME",
        default=[],
        help="presets to run, by name or experiment kind (table2, cost_sweep, case, p_sweep, "
        "heatmap, team_size, budget_sweep; repeatable); default: all",
    )
    p.add_argument(
        "--presets",
        metavar="DIR",
        help="take the presets from DIR/*.yaml (experiments of your own, in the packaged "
        "presets' format; docs/reproduce.md) instead of the paper's",
    )
    p.add_argument("--budget", required=True, choices=BUDGETS, help="compute budget")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")
    p.add_argument(
        "--seed",
        type=int,
        metavar="S",
        help="every run's base seed instead of the presets' (0): a replicate of the same "
        "experiments on other seeds; pool the replicates with `marta gain`",
    )
    p.add_argument(
        "--set",
        nargs="+",
        action="extend",
        default=[],
        metavar="FIELD=VALUE",
        help="set config fields of every run, after the budget (e.g. "
        "marta.switcher.reward_scale=1; repeatable); marta.* fields skip runs without MARTA, "
        "and Switcher fields skip baseline runs",
    )
    p.add_argument(
        "--backend",
        choices=("local", "ray"),
        default="local",
        help="local: one single-threaded worker process per core (default); ray: one Ray "
        "task per run (needs pip install 'marta[ray]')",
    )
    p.add_argument(
        "--address",
        metavar="ADDR",
        help="ray: the cluster (auto = `ray start --head` on this machine, HOST:PORT, "
        "ray://HOST:PORT); default: start a local Ray instance",
    )
    p.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="local: runs at once (default: one per available core); ray without --address: "
        "CPUs of the local instance",
    )
    p.add_argument(
        "--max-retries",
        type=int,
        default=3,
        metavar="N",
        help="ray: retries of a run whose worker died (default 3)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="replace runs of a different config in --out (their results are deleted)",
    )
    p.add_argument(
        "--compile-cache",
        metavar="DIR",
        default=None,
        help="JAX's persistent compilation cache (default OUT/.jax-cache; 'none' disables it)",
    )
    p.add_argument("--no-report", action="store_true", help="do not write report.md at the end")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from marta.reproduce.presets import preset_dir, select_presets
    from marta.reproduce.runs import CACHE_DIR, reproduce

    if args.address is not None and args.backend != "ray":
        raise CliError("--address needs --backend ray")
    cache = args.compile_cache if args.compile_cache is not None else CACHE_DIR
    presets = select_presets(args.only, preset_dir(args.presets))
    try:
        summary = reproduce(
            presets,
            args.budget,
            args.out,
            backend=args.backend,
            workers=args.workers,
            address=args.address,
            max_retries=args.max_retries,
            force=args.force,
            seed=args.seed,
            overrides=args.set,
            cache_dir=None if str(cache).lower() == "none" else cache,
        )
    except KeyboardInterrupt:
        print("marta reproduce: aborted; rerun the same command to resume", file=sys.stderr)
        return 130
    status = 0
    if summary.interrupted:
        print(
            f"marta reproduce: interrupted; {summary.done}/{summary.planned} runs done. "
            "Rerun the same command to resume the others",
            file=sys.stderr,
        )
        status = 130
    elif summary.failed:
        print(
            f"marta reproduce: {len(summary.failed)} of {summary.planned} runs failed: "
            f"{', '.join(summary.failed[:5])} (see <run>/reproduce.log); rerun to retry them",
            file=sys.stderr,
        )
        status = 1
    if not args.no_report:
        status = max(status, _report(Path(args.out)))
    print(
        f"{args.out}: {summary.done}/{summary.planned} runs done ({summary.skipped} skipped"
        + (f", {summary.copied} copied" if summary.copied else "")
        + f") in {summary.wall_time_s:.1f} s"
    )
    return status


def _report(out: Path) -> int:
    """Writes OUT/report.md with `marta report` if that module is there; 1 if it failed."""
    try:
        from marta.reproduce.report import write_report
    except ImportError as err:
        print(
            f"marta reproduce: no report written ({err}); run `marta report {out}`", file=sys.stderr
        )
        return 0
    try:
        path = write_report(out)
    except (ValueError, OSError) as err:
        print(f"marta reproduce: the report failed: {err}", file=sys.stderr)
        return 1
    print(f"wrote {path}")
    return 0
