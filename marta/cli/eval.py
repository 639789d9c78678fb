"""`marta eval`: score a saved run's greedy team under any faults, or against a red team.

    marta eval --run runs/x                                        # no faults
    marta eval --run runs/x --fault-policy worst_case --fault-p 0.2 --episodes 100
    marta eval --run runs/x --red-team 100000 --budget 3 --cost 0.1

The run's latest checkpoint is loaded into the trainer rebuilt from ``DIR/config.yaml``
(`marta.experiments.runner.build_trainer`; a plain run is the baseline with p = 0, so it
loads into that trainer), and every evaluation is the trainer's compiled
``evaluate_under`` (`marta.core.marta`), vmapped over the run's seeds.

* Fault evaluation: the fault flags are `marta train`'s (`marta.cli.train.FAULT_FLAGS`);
  they start from `FaultConfig`'s defaults. Writes ``DIR/eval/<name>.json`` (``--name``, or
  a name derived from the fault settings).
* ``--red-team STEPS``: a fresh Switcher (and with ``--fault-policy learned`` a fresh
  adversary) trains for STEPS env steps against the frozen, greedy team
  (``MartaConfig.freeze_team``); the return it forces is reported next to the team's
  no-fault return and its return under random-onset faults at the red team's activation
  rate. Writes ``DIR/eval/red_team.json``.

See docs/marta.md ("Evaluating a saved run"). Bad input exits with status 2 and one line on
stderr, before anything is compiled.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from marta.cli import CliError
from marta.cli.train import (
    FAULT_CONFIG_FLAGS,
    FAULT_FLAGS,
    add_compile_cache_flag,
    add_fault_flags,
)

if TYPE_CHECKING:  # the heavy modules load only when a command runs
    from marta.core.marta import Evaluation, MartaTrainer
    from marta.experiments.checkpoint import CheckpointInfo
    from marta.experiments.config import ExperimentConfig
    from marta.experiments.runner import RunPaths
    from marta.faults import FaultConfig

#: red-team-only options
RED_TEAM_FLAGS = ("cost", "adversary")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _positive_int(text: str) -> int:
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {value}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"must be an integer in [0, 2**32), got {value}")
    return value


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval",
        help="score a saved run under faults, or against a red-team switcher",
        description=(
            "Score the greedy team of a saved run (its latest checkpoint) under any fault\n"
            "config, per seed and as mean ± sd over seeds; or train a red-team Switcher\n"
            "against the frozen team (--red-team STEPS). Writes DIR/eval/<name>.json\n"
            "(docs/marta.md). Exit status: 0 done, 2 invalid input."
        ),
        epilog="examples:\n  marta eval --run runs/x --fault-policy worst_case --fault-p 0.2\n"
        "  marta eval --run runs/x --red-team 100000 --budget 3",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--run", metavar="DIR", required=True, help="run directory (marta train)")
    p.add_argument(
        "--episodes", metavar="N", type=_positive_int, default=100, help="episodes per seed"
    )
    p.add_argument("--name", metavar="NAME", help="write DIR/eval/NAME.json")
    p.add_argument("--seed", metavar="S", type=_seed, default=0, help="evaluation seed")
    p.add_argument(
        "--red-team",
        metavar="STEPS",
        type=_positive_int,
        help="train a Switcher for STEPS env steps against the frozen team",
    )
    faults = p.add_argument_group(
        "faults (the flags of marta train; from FaultConfig's defaults); none = no faults"
    )
    add_fault_flags(faults, FAULT_CONFIG_FLAGS + RED_TEAM_FLAGS)
    add_compile_cache_flag(p)
    p.set_defaults(func=run)


# ----------------------------------------------------------------------------- inputs
def _given(args: argparse.Namespace, dests: tuple[str, ...]) -> list[str]:
    return [dest for dest in dests if getattr(args, dest) is not None]


def fault_from_flags(args: argparse.Namespace, base: FaultConfig) -> FaultConfig:
    """`base` with the fault flags given in `args`, parsed and validated."""
    from marta.experiments.config import build_dataclass, merge, parse_overrides
    from marta.faults import FaultConfig

    items = [
        f"{FAULT_FLAGS[dest].field.removeprefix('train_fault.')}={getattr(args, dest)}"
        for dest in _given(args, FAULT_CONFIG_FLAGS)
    ]
    data = merge(dataclasses.asdict(base), parse_overrides(items))
    return build_dataclass(FaultConfig, data, "fault")


def fault_name(fault: FaultConfig | None) -> str:
    """A file name from the fault settings: policy, p, then every field off its default."""
    from marta.faults import FaultConfig

    if fault is None:
        return "no_fault"
    default = FaultConfig()
    parts = [fault.policy, f"p{fault.p:g}"]
    for field in dataclasses.fields(FaultConfig):
        value = getattr(fault, field.name)
        if field.name not in ("policy", "p") and value != getattr(default, field.name):
            text = "-".join(f"{v:g}" for v in value) if isinstance(value, tuple) else f"{value}"
            parts.append(f"{field.name}-{text}")
    return re.sub(r"[^A-Za-z0-9._-]", "-", "_".join(parts))


def load_run(paths: RunPaths, config: ExperimentConfig) -> tuple[MartaTrainer, Any, CheckpointInfo]:
    """(trainer, state of all seeds, checkpoint info) of the run's latest checkpoint."""
    from marta.core.marta import MartaConfig
    from marta.experiments.runner import load_trained
    from marta.faults import FaultConfig

    if config.marta is None:  # plain training is the baseline with p = 0 (same state)
        config = config.replace(marta=MartaConfig(method="baseline", train_fault=FaultConfig(p=0)))
    return load_trained(paths, config)


def evaluate_conditions(
    trainer: MartaTrainer,
    conditions: dict[str, tuple[FaultConfig | None, bool]],
    episodes: int,
    keys: Any,
    state: Any,
) -> dict[str, Evaluation]:
    """{row: `Evaluation` of every seed} for {row: (fault, switched)}, one compiled program.

    Every condition uses the same keys (common random numbers across conditions).
    """
    import jax

    def evaluate_all(key: Any, seed_state: Any) -> dict[str, Any]:
        return {
            row: trainer.evaluate_under(key, seed_state, fault, episodes, switched=switched)
            for row, (fault, switched) in conditions.items()
        }

    return jax.device_get(jax.jit(jax.vmap(evaluate_all))(keys, state))


# ----------------------------------------------------------------------------- output
def _table(rows: dict[str, Any]) -> str:
    """One row per condition: each seed's mean, then mean ± sd over seeds."""
    from marta.experiments.runner import seed_summary
    from marta.experiments.table import format_table

    lines = []
    for name, values in rows.items():
        summary = seed_summary(values)
        line = {"": name}
        line.update({f"seed {k}": v for k, v in enumerate(summary["per_seed"])})
        line["mean ± sd"] = f"{summary['mean']:.4g} ± {summary['std']:.3g}"
        lines.append(line)
    return format_table(lines)


def _write(paths: RunPaths, name: str, data: dict[str, Any]) -> Path:
    from marta.experiments.io import atomic_write_text, check_writable

    check_writable(paths.evaluations)
    path = paths.evaluations / f"{name}.json"
    atomic_write_text(path, json.dumps(data, indent=2) + "\n")
    return path


def _header(
    paths: RunPaths, name: str, info: CheckpointInfo, args: argparse.Namespace
) -> dict[str, Any]:
    return {
        "run": str(paths.root),
        "name": name,
        "segments_done": info.segments_done,
        "env_steps": info.env_steps,
        "seed": args.seed,
        "episodes_per_seed": args.episodes,
    }


# ----------------------------------------------------------------------------- commands
def run(args: argparse.Namespace) -> int:
    from marta.experiments.compile_cache import enable_compile_cache, resolve_cache_dir
    from marta.experiments.config import load_config
    from marta.experiments.runner import RunPaths

    paths = RunPaths(Path(args.run))
    if not paths.config.exists():
        raise CliError(f"{args.run!r} holds no run (no config.yaml); give a marta train --out DIR")
    if args.name is not None and not _NAME.fullmatch(args.name):
        raise CliError(f"--name must be letters, digits, '.', '_' or '-'; got {args.name!r}")
    config = load_config(paths.config)
    enable_compile_cache(resolve_cache_dir(args.compile_cache))
    if args.red_team is None:
        extra = _given(args, RED_TEAM_FLAGS)
        if extra:
            raise CliError(f"{FAULT_FLAGS[extra[0]].flag} needs --red-team STEPS")
        return evaluate(args, paths, config)
    if args.fault_p is not None:
        raise CliError("--fault-p is not used with --red-team (the Switcher chooses the onsets)")
    return red_team(args, paths, config)


def _check_fault(fault: FaultConfig, config: ExperimentConfig) -> None:
    """Refuses a fault the run's env or state cannot produce, before anything is compiled."""
    import marta.envs

    env = marta.envs.make(config.env_id, **config.env_kwargs)
    fault.validate_for(env.num_agents, env.num_actions)
    if fault.policy == "learned" and (
        config.marta is None or config.marta.adversary_learner is None
    ):
        raise CliError(
            "--fault-policy learned needs a run trained with an adversary (--adversary); "
            "use uniform, worst_case or stuck"
        )


def evaluate(args: argparse.Namespace, paths: RunPaths, config: ExperimentConfig) -> int:
    """Scores the run's greedy team under the fault flags (none: no faults)."""
    from marta.core import seed_keys
    from marta.experiments.runner import seed_summary
    from marta.faults import FaultConfig

    fault = None
    if _given(args, FAULT_CONFIG_FLAGS):
        fault = fault_from_flags(args, FaultConfig())
        _check_fault(fault, config)
    name = args.name or fault_name(fault)
    trainer, state, info = load_run(paths, config)
    keys = seed_keys(args.seed, config.num_seeds)
    result = evaluate_conditions(trainer, {name: (fault, False)}, args.episodes, keys, state)[name]
    data = {
        **_header(paths, name, info, args),
        "fault": None if fault is None else dataclasses.asdict(fault),
        "return": seed_summary(result.returns),
        "length": seed_summary(result.lengths),
        "activations_per_episode": seed_summary(result.activations),
        **{f"{k}_per_episode": seed_summary(c) for k, c in result.counters.items()},
    }
    path = _write(paths, name, data)
    rows = {"return": result.returns, "length": result.lengths,
            "activations/episode": result.activations,
            **{f"{k}/episode": c for k, c in result.counters.items()}}  # fmt: skip
    print(f"{paths.root} after {info.env_steps} env steps, {name}, {args.episodes} episodes/seed")
    print(_table(rows))
    print(f"wrote {path}")
    return 0


def red_team_config(
    config: ExperimentConfig,
    fault: FaultConfig,
    *,
    steps: int,
    cost: str | None,
    adversary: str | None,
) -> ExperimentConfig:
    """The run's `ExperimentConfig` turned into its red team's (`MartaConfig.freeze_team`).

    The schedule is the run's (num_envs, rollout_steps, updates, learning starts) for `steps`
    env steps, one segment per run's eval interval when that divides `steps`; the Switcher
    keeps the run's hyperparameters (a MARTA run; else the defaults) with activation cost
    `cost` (raw text; default 0) and sees the budget exactly when `fault` has one.

    Raises:
        CliError, ValueError: a schedule or option the run cannot take.
    """
    from marta.core.marta import MartaConfig
    from marta.experiments.config import build_dataclass, merge, parse_overrides
    from marta.switcher import SwitcherConfig

    train = config.train
    per_iteration = train.num_envs * train.rollout_steps
    if steps % per_iteration:
        raise CliError(
            f"--red-team STEPS must be a multiple of the run's num_envs * rollout_steps = "
            f"{per_iteration}; got {steps}"
        )
    if adversary is not None and fault.policy != "learned":
        raise CliError("--adversary needs --fault-policy learned")
    trained = config.marta if config.marta is not None else MartaConfig()
    if trained.method != "marta":
        trained = MartaConfig()
    items = [f"activation_cost={cost or 0.0}", f"use_budget={fault.budget is not None}"]
    switcher = build_dataclass(
        SwitcherConfig, merge(dataclasses.asdict(trained.switcher), parse_overrides(items)),
        "switcher",
    )  # fmt: skip
    red = MartaConfig(
        method="marta",
        train_fault=fault,
        switcher=switcher,
        adversary_learner=(adversary or config.learner_name) if fault.policy == "learned" else None,
        switcher_updates_per_rollout=trained.switcher_updates_per_rollout,
        switcher_learning_starts=trained.switcher_learning_starts,
        switcher_onsets="every_step",  # the strongest attack: bounded by cost and budget only
        freeze_team=True,
    )
    interval = train.eval_interval if steps % train.eval_interval == 0 else steps
    schedule = dataclasses.replace(train, total_env_steps=steps, eval_interval=interval)
    return config.replace(train=schedule, marta=red)


def train_red_team(
    trainer: MartaTrainer,
    team: Any,
    keys: Any,
    report: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[Any, list[dict[str, Any]]]:
    """Trains a fresh Switcher (and adversary) of `trainer` around the frozen `team`.

    Args:
        trainer: the red team's `MartaTrainer` (``freeze_team=True``).
        team: the trained team's `LearnerState` of every seed (leading seed axis).
        keys: one PRNG key per seed.
        report: called with each segment's curve entry (progress).

    Returns:
        The final state (its ``learner`` is `team`, untouched) and one curve entry per
        segment: env steps, the forced return and activation rate of each seed.
    """
    import jax

    from marta.learners.trim import vmap_seeds

    init_keys = jax.vmap(lambda k: jax.random.fold_in(k, 1))(keys)
    state = jax.jit(jax.vmap(lambda k, t: trainer.init(k, team=t)))(init_keys, team)
    segment = jax.jit(vmap_seeds(trainer.segment))
    curve = []
    for _ in range(trainer.num_segments):
        state, metrics = segment(state)
        metrics = jax.device_get(metrics)
        curve.append({
            "env_steps": int(metrics["env_steps"][0]),
            "forced_return": [round(float(v), 6) for v in metrics["eval_return_mean"]],
            "activation_rate": [round(float(v), 6) for v in metrics["activation_rate"]],
        })  # fmt: skip
        if report is not None:
            report(curve[-1])
    return state, curve


def red_team(args: argparse.Namespace, paths: RunPaths, config: ExperimentConfig) -> int:
    """Trains a Switcher (and adversary) against the frozen team; compares forced returns."""
    import numpy as np

    from marta.core import seed_keys
    from marta.experiments.runner import build_trainer, seed_summary, write_activation_map
    from marta.faults import FaultConfig

    steps = args.red_team
    fault = fault_from_flags(args, FaultConfig(policy="worst_case"))
    rt_config = red_team_config(
        config, fault, steps=steps, cost=args.cost, adversary=args.adversary
    )
    name = args.name or "red_team"
    rt = build_trainer(rt_config)
    _, state, info = load_run(paths, config)
    keys = seed_keys(args.seed, config.num_seeds)

    def report(entry: dict[str, Any]) -> None:
        print(
            f"red team: env_steps {entry['env_steps']}/{steps}  forced return "
            f"{np.mean(entry['forced_return']):.4g}  activation rate "
            f"{np.mean(entry['activation_rate']):.3g}",
            file=sys.stderr,
            flush=True,
        )

    rt_state, curve = train_red_team(rt, state.learner, keys, report)
    del state
    first = {"red_team": (fault, True), "no_fault": (None, False)}
    results = evaluate_conditions(rt, first, args.episodes, keys, rt_state)
    # random onsets at the red team's rate: activations per step of its episodes
    forced = results["red_team"]
    rate = round(float(forced.activations.sum() / max(forced.lengths.sum(), 1.0)), 6)
    same_rate = {"uniform_same_rate": (dataclasses.replace(fault, policy="uniform", p=rate), False)}
    if fault.policy != "uniform":  # the red team's fault actions, at random onsets
        row = f"{fault.policy}_random_onset_same_rate"
        same_rate[row] = (dataclasses.replace(fault, p=rate), False)
    results.update(evaluate_conditions(rt, same_rate, args.episodes, keys, rt_state))
    results = {row: results[row] for row in (*first, *same_rate)}  # (device_get sorts keys)
    data = {
        **_header(paths, name, info, args),
        "red_team_env_steps": steps,
        "fault": dataclasses.asdict(fault),
        "switcher": dataclasses.asdict(rt_config.marta.switcher),
        "adversary_learner": rt_config.marta.adversary_learner,
        "same_rate_p": rate,
        "returns": {row: seed_summary(r.returns) for row, r in results.items()},
        "activations_per_episode": {row: seed_summary(r.activations) for row, r in results.items()},
        "segments": curve,
    }
    path = _write(paths, name, data)
    if rt.activation_map is not None:
        write_activation_map(paths.evaluations / f"{name}_activation_map.json", rt, rt_state)
    print(
        f"{paths.root} after {info.env_steps} env steps: red team of {steps} env steps, "
        f"{args.episodes} episodes/seed, same-rate p = {rate:g}"
    )
    print(_table({row: r.returns for row, r in results.items()}))
    print(f"wrote {path}")
    return 0
