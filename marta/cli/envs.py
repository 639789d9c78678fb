"""`marta envs`: table of every registered environment id and its static sizes."""

from __future__ import annotations

import argparse

from marta.experiments.table import format_table


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("envs", help="list registered environment ids and their sizes")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import marta.envs

    rows = []
    for env_id in sorted(marta.envs.ENVS):
        env = marta.envs.make(env_id)
        rows.append({"id": env_id, **env.spec, "description": marta.envs.ENVS[env_id].description})
    print(format_table(rows))
    return 0
