"""`marta presets`: the experiments `marta reproduce` runs.

marta presets                          # one line per preset
marta presets --budget quick           # with each preset's runs, seeds, env steps and share of
                                       # the suite's update work (what sets its run time)
marta presets fig3-p-sweep --budget paper   # one preset as YAML, resolved for a budget
"""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    from marta.reproduce.presets import BUDGETS

    p = sub.add_parser(
        "presets",
        help="list the presets of marta reproduce (the paper's experiments)",
        description="List the presets of `marta reproduce`, or show one as YAML.",
    )
    p.add_argument("name", nargs="?", help="show this preset (YAML) instead of the list")
    p.add_argument(
        "--presets", metavar="DIR", help="the presets in DIR/*.yaml instead of the paper's"
    )
    p.add_argument(
        "--budget",
        choices=BUDGETS,
        help="list: add seeds, env steps and share of the update work under this budget; "
        "NAME: resolve for it",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from marta.experiments.table import format_table
    from marta.reproduce.presets import load_preset, load_presets, preset_dir
    from marta.reproduce.runs import RunState, plan_copies, plan_runs, update_work

    if args.name is not None:
        print(load_preset(args.name, preset_dir(args.presets)).to_yaml(args.budget), end="")
        return 0
    presets = load_presets(preset_dir(args.presets))
    specs = plan_runs(presets, args.budget) if args.budget is not None else []
    copies = plan_copies(specs, {spec.key: RunState(action="fresh") for spec in specs})
    # a copied run costs nothing: its source's run is counted once
    work = {spec.key: update_work(spec.config)[0] for spec in specs if spec.key not in copies}
    rows = []
    for preset in presets:
        row = {"name": preset.name, "experiment": preset.experiment, "runs": len(preset.runs)}
        if args.budget is not None:
            configs = [spec.config for spec in specs if spec.preset == preset.name]
            row["seeds"] = configs[0].num_seeds
            row["env_steps"] = _steps(c.train.total_env_steps for c in configs)
            share = sum(w for k, w in work.items() if k.startswith(f"{preset.name}/"))
            row["work_%"] = f"{100 * share / sum(work.values()):.1f}"
        row["description"] = preset.description
        rows.append(row)
    print(format_table(rows))
    if args.budget is not None:
        print(
            f"\n{len(specs)} runs, {len(specs) - len(copies)} distinct configs (a run with the "
            f"config of another is copied from it); `marta reproduce --budget {args.budget} "
            "--out DIR` runs them all, the most update work first (work_%: a preset's share of "
            "the agent-steps its learners' updates process, copies excluded; "
            "marta.reproduce.runs.update_work)"
        )
    return 0


def _steps(values) -> str:
    """'40000', or '40000-80000' when the runs differ."""
    values = sorted(set(values))
    return str(values[0]) if len(values) == 1 else f"{values[0]}-{values[-1]}"
