"""`marta solve`: exact solution of a tabular fault game (value iteration of MARTA's operator).

Prints, per state (and per remaining budget with ``--budget``), the game value, the no-fault
and fault branches of the operator, where the Switcher activates and against whom, the
Adversary's worst action and the team's best response. With ``--terminate-p Q < 1`` faults
persist until a Bernoulli(Q) termination, and a second table shows what happens while each
agent's fault runs on.
"""

from __future__ import annotations

import argparse

import numpy as np

from marta.experiments.table import format_table


def add_parser(sub: argparse._SubParsersAction) -> None:
    from marta.tabular import GAMES

    p = sub.add_parser(
        "solve",
        help="solve a tabular fault game exactly and show where the Switcher activates",
        description="Value iteration of Theorem 1's operator (Theorem 4 with --budget; "
        "persistent faults with --terminate-p < 1).",
    )
    p.add_argument(
        "--game",
        default="critical-state",
        help=f"example game ({', '.join(sorted(GAMES))}) or 'random' (default: critical-state)",
    )
    p.add_argument("--cost", type=float, required=True, help="activation cost c >= 0")
    p.add_argument("--budget", type=int, default=None, help="activation budget n >= 0")
    p.add_argument(
        "--terminate-p",
        type=float,
        default=1.0,
        metavar="Q",
        help="probability that a fault ends after each faulty step (default 1: one-step faults)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the random game (default 0)")
    p.add_argument("--states", type=int, default=5, help="random game: number of states")
    p.add_argument("--actions", type=int, default=2, help="random game: actions per agent")
    p.add_argument("--agents", type=int, default=2, help="random game: number of agents")
    p.add_argument("--gamma", type=float, default=None, help="discount (default: game's own)")
    p.add_argument("--markdown", action="store_true", help="print a Markdown table")
    p.set_defaults(func=run)


def _build_game(args: argparse.Namespace):
    from marta.tabular import make_game, random_game

    gamma = {} if args.gamma is None else {"gamma": args.gamma}
    if args.game == "random":
        return random_game(args.seed, args.states, args.actions, args.agents, **gamma)
    return make_game(args.game, **gamma)


def _joint(game, actions: np.ndarray) -> str:
    if np.any(actions < 0):
        return "-"
    return "(" + ",".join(game.action_label(int(a)) for a in actions) + ")"


def run(args: argparse.Namespace) -> int:
    from marta.tabular import solve
    from marta.tabular.operators import num_contexts

    game = _build_game(args)
    sol = solve(game, args.cost, args.budget, terminate_p=args.terminate_p)
    budgeted = sol.budget is not None
    levels = range(sol.budget, -1, -1) if budgeted else [None]
    rows, running_rows = [], []
    for y in levels:
        pick = (lambda x: x) if y is None else (lambda x, y=y: x[y])
        switch, executed = pick(sol.switcher_action), pick(sol.executed_action)
        head = {} if y is None else {"budget": y}
        for s in range(game.num_states):
            g = int(switch[s])
            fault_action = pick(sol.fault_action)[g - 1, s] if g else -1
            rows.append(
                head
                | {
                    "state": game.state_label(s),
                    "value": float(pick(sol.v)[s]),
                    "team_return": float(pick(sol.team_value)[s]),
                    "faulty_steps": float(pick(sol.expected_faulty_steps)[s]),
                    "no_fault": float(pick(sol.nominal)[s]),
                    "fault": float(pick(sol.fault)[s]),
                    "switcher": f"agent {g - 1}" if g else "-",
                    "faulty_action": game.action_label(int(fault_action)) if g else "-",
                    "executed": _joint(game, executed[s]),
                }
            )
        for i in range(game.num_agents):
            for s in range(game.num_states):
                running_rows.append(
                    head
                    | {
                        "faulty": f"agent {i}",
                        "state": game.state_label(s),
                        "value": float(pick(sol.running_value)[i, s]),
                        "faulty_action": game.action_label(int(pick(sol.running_action)[i, s])),
                        "executed": _joint(game, pick(sol.running_response)[i, s]),
                    }
                )
    n_act = np.asarray(sol.activates).reshape(-1, game.num_states).sum(-1)
    print(
        f"game {game.name}: S={game.num_states} agents={game.num_agents} "
        f"actions={game.action_shape} gamma={game.gamma:g} cost={sol.cost:g} "
        f"budget={'none' if not budgeted else sol.budget} terminate_p={sol.terminate_p:g} "
        f"({sol.iterations} sweeps)"
    )
    print(format_table(rows, markdown=args.markdown))
    where = (
        ", ".join(
            f"budget {y}: {k}/{game.num_states}" for y, k in zip(levels, n_act[::-1], strict=True)
        )
        if budgeted
        else f"{int(n_act[0])}/{game.num_states} states"
    )
    print(f"switcher activates in {where}")
    if num_contexts(game, sol.cost, sol.terminate_p) > 1:  # faults can run on
        budget_note = " (budget: what remains after the activation)" if budgeted else ""
        print(f"\nwhile a fault runs on{budget_note}:")
        print(format_table(running_rows, markdown=args.markdown))
    return 0
