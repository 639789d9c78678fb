"""`marta train`: train a learner on an environment, all seeds in one compiled program.

    marta train --env matrix-climbing --learner qmix --steps 200000 --seeds 3 --out runs/x \\
        train.eval_interval=6400 learner.lr=3e-4
    marta train --resume runs/x
    marta train --env lbf-5x5-4p-1f --learner qmix --method marta --fault-policy worst_case \\
        --fault-p 0.2 --cost 0.1 --budget 3 --steps 1000000 --seeds 3 --out runs/marta-qmix

Configuration is layered: the learner's and trainer's defaults < ``--config FILE.yaml`` <
the named flags < ``field=value`` overrides (a field set twice is an error). Everything is
validated before anything is compiled; bad input gives one line on stderr and exit status 2.
A run stopped by a non-finite metric exits with 1, one stopped by Ctrl-C with 130 (after
saving a checkpoint). See docs/running.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

from marta.cli import CliError

#: named flags and the config field each one sets
FLAG_FIELDS = {
    "env_id": ("--env", "env_id"),
    "learner_name": ("--learner", "learner_name"),
    "steps": ("--steps", "train.total_env_steps"),
    "seeds": ("--seeds", "num_seeds"),
    "seed": ("--seed", "seed"),
    "num_envs": ("--num-envs", "train.num_envs"),
    "eval_interval": ("--eval-interval", "train.eval_interval"),
    "eval_episodes": ("--eval-episodes", "train.eval_episodes"),
}


@dataclasses.dataclass(frozen=True)
class FaultFlag:
    """A fault-injection option shared by `marta train` and `marta eval`.

    Attributes:
        flag: the option, e.g. ``--fault-p``.
        field: the `MartaConfig` field it sets, dotted (``train_fault.p``); the
            ``train_fault.`` ones are `FaultConfig` fields (see `FAULT_CONFIG_FLAGS`).
        metavar: shown in ``--help``.
        help: one line for ``--help``.
    """

    flag: str
    field: str
    metavar: str
    help: str


#: fault-injection options by argparse dest (``--method`` is train's own: it has choices)
FAULT_FLAGS = {
    "fault_selection": FaultFlag(
        "--fault-selection", "train_fault.selection", "{simple,complex}", "who may fail"
    ),
    "fault_agent": FaultFlag(
        "--fault-agent", "train_fault.agent", "I", "simple selection: the faulty agent"
    ),
    "fault_p": FaultFlag("--fault-p", "train_fault.p", "P", "per-step fault onset probability"),
    "fault_policy": FaultFlag(
        "--fault-policy",
        "train_fault.policy",
        "POLICY",
        "fault policy: uniform, worst_case, learned, stuck or a plugin's",
    ),
    "fault_temperature": FaultFlag(
        "--fault-temperature",
        "train_fault.temperature",
        "T",
        "worst_case: temperature of softmax(-Q / T) (small T = argmin)",
    ),
    "fault_duration": FaultFlag(
        "--fault-duration", "train_fault.duration", "{step,persistent}", "how long a fault lasts"
    ),
    "terminate_p": FaultFlag(
        "--terminate-p", "train_fault.terminate_p", "Q", "persistent faults: end probability"
    ),
    "budget": FaultFlag("--budget", "train_fault.budget", "B", "most activations per episode"),
    "cost": FaultFlag("--cost", "switcher.activation_cost", "C", "switcher activation cost c"),
    "adversary": FaultFlag(
        "--adversary", "adversary_learner", "NAME", "adversary learner (policy learned)"
    ),
    "eval_fault_policy": FaultFlag(
        "--eval-fault-policy", "eval_fault.policy", "POLICY", "evaluation fault policy"
    ),
    "eval_fault_p": FaultFlag(
        "--eval-fault-p", "eval_fault.p", "P", "evaluation fault probability"
    ),
}
#: the options that set one `FaultConfig` field each (``train_fault.<field>``)
FAULT_CONFIG_FLAGS = tuple(d for d, f in FAULT_FLAGS.items() if f.field.startswith("train_fault."))
#: fault-injection flags of `marta train` and the config field each one sets (they need
#: --method or a marta section in --config)
FAULT_FLAG_FIELDS = {
    "method": ("--method", "marta.method"),
    **{dest: (f.flag, f"marta.{f.field}") for dest, f in FAULT_FLAGS.items()},
}


def add_compile_cache_flag(parser: argparse.ArgumentParser) -> None:
    """``--compile-cache DIR``: JAX's persistent compilation cache (docs/running.md)."""
    parser.add_argument(
        "--compile-cache",
        metavar="DIR",
        help="compiled-program cache (default $MARTA_COMPILE_CACHE or ~/.cache/marta/jax; "
        "'none' disables it)",
    )


def add_fault_flags(group: argparse._ArgumentGroup, dests: tuple[str, ...]) -> None:
    """Adds the `FAULT_FLAGS` named by `dests` (raw text values, parsed by the config)."""
    for dest in dests:
        f = FAULT_FLAGS[dest]
        group.add_argument(f.flag, dest=dest, metavar=f.metavar, help=f.help)


class _IntermixedParser(argparse.ArgumentParser):
    """Accepts ``field=value`` overrides anywhere between the options.

    Plain argparse binds a ``nargs="*"`` positional once, so overrides placed both before and
    after an option would be "unrecognized"; ``parse_known_intermixed_args`` lifts that.
    """

    _intermixing = False

    def parse_known_args(self, args=None, namespace=None):
        if self._intermixing:  # the intermixed parser calls back into this method
            return super().parse_known_args(args, namespace)
        self._intermixing = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixing = False


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a learner (seeds vmapped) and write a run directory",
        description=(
            "Train a learner on an environment; all seeds run as one compiled program.\n"
            "Writes DIR/config.yaml, DIR/seed_<k>/metrics.jsonl, DIR/curves.png and\n"
            "DIR/checkpoints/ (see docs/running.md). Exit status: 0 done, 1 non-finite\n"
            "metric, 2 invalid input, 130 interrupted (resume with --resume DIR)."
        ),
        epilog="examples:\n  marta train --env matrix-climbing --learner qmix --steps 64000 "
        "--seeds 3 --out runs/climb \\\n      train.eval_interval=6400 learner.lr=3e-4\n"
        "  marta train --resume runs/climb",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--env", dest="env_id", metavar="ENV", help="environment id (marta envs)")
    p.add_argument(
        "--learner",
        dest="learner_name",
        metavar="NAME",
        help="iql, vdn, qmix, maddpg or a plugin's",
    )
    p.add_argument("--steps", metavar="N", help="total environment steps per seed")
    p.add_argument("--seeds", metavar="K", help="number of seeds (vmapped)")
    p.add_argument("--seed", metavar="S", help="base seed (default 0)")
    p.add_argument("--num-envs", metavar="E", help="parallel training environments")
    p.add_argument("--eval-interval", metavar="I", help="env steps between evaluations")
    p.add_argument("--eval-episodes", metavar="M", help="greedy episodes per evaluation")
    p.add_argument("--out", metavar="DIR", help="run directory")
    faults = p.add_argument_group(
        "fault injection (docs/marta.md); without --method training has no faults"
    )
    faults.add_argument(
        "--method",
        choices=("baseline", "marta"),
        help="baseline: random faults with probability --fault-p; marta: the switcher chooses",
    )
    add_fault_flags(faults, tuple(FAULT_FLAGS))
    p.add_argument("--config", metavar="FILE", help="YAML config (full or partial)")
    p.add_argument(
        "--resume",
        nargs="?",
        const=True,
        metavar="DIR",
        help="continue the run in DIR (or --out) from its latest checkpoint",
    )
    p.add_argument(
        "--force", action="store_true", help="delete the results of a run already in --out"
    )
    p.add_argument(
        "--tensorboard", action="store_true", help="also write DIR/events (needs tensorboardX)"
    )
    add_compile_cache_flag(p)
    p.add_argument(
        "--progress",
        choices=("auto", "bar", "log", "none"),
        default="auto",
        help="progress display (auto: a bar on a terminal, log lines otherwise)",
    )
    p.add_argument(
        "overrides",
        nargs="*",
        metavar="field=value",
        help="config overrides with dotted paths, e.g. learner.lr=3e-4 train.num_envs=8",
    )
    p.__class__ = _IntermixedParser  # subparsers are built by the top-level parser's class
    p.set_defaults(func=run)


def _fault_flag_implications(args: argparse.Namespace, base: dict) -> list[str]:
    """Checks the fault flags' context; ``--budget`` also lets the switcher see the budget."""
    fault_flags = [
        flag
        for dest, (flag, _) in FAULT_FLAG_FIELDS.items()
        if dest != "method" and getattr(args, dest) is not None
    ]
    has_section = isinstance(base.get("marta"), dict) or any(
        o.startswith("marta.") for o in args.overrides
    )
    if fault_flags and args.method is None and not has_section:
        raise CliError(f"{fault_flags[0]} needs --method baseline or --method marta")
    method = args.method or (base.get("marta") or {}).get("method", "marta")
    explicit = any(o.startswith("marta.switcher.use_budget=") for o in args.overrides)
    if args.budget is not None and method == "marta" and not explicit:
        return ["marta.switcher.use_budget=true"]
    return []


def run(args: argparse.Namespace) -> int:
    from marta.experiments.compile_cache import enable_compile_cache, resolve_cache_dir
    from marta.experiments.config import build_config, read_yaml
    from marta.experiments.runner import (
        DiskFullError,
        NonFiniteMetricError,
        RunInterrupted,
        run_experiment,
    )

    all_flags = {**FLAG_FIELDS, **FAULT_FLAG_FIELDS}
    given = [flag for dest, (flag, _) in all_flags.items() if getattr(args, dest) is not None]
    if args.resume is not None:
        if given or args.config or args.overrides or args.force:
            extra = given + (["--config"] if args.config else []) + (["--force"] * args.force)
            extra += args.overrides[:1]
            raise CliError(
                "--resume continues a run with its saved config.yaml; drop " + ", ".join(extra)
            )
        out = args.resume if isinstance(args.resume, str) else args.out
        if out is None:
            raise CliError("--resume needs the run directory: --resume DIR")
        if isinstance(args.resume, str) and args.out is not None and args.out != args.resume:
            raise CliError(f"--resume {args.resume} and --out {args.out} name different runs")
        config = None
    else:
        base = read_yaml(args.config) if args.config else {}
        flags = [
            f"{field}={getattr(args, dest)}"
            for dest, (_, field) in all_flags.items()
            if getattr(args, dest) is not None
        ]
        flags += _fault_flag_implications(args, base)
        config = build_config(base, [*flags, *args.overrides])
        out = args.out if args.out is not None else config.out_dir
        if out is None:
            raise CliError("missing --out DIR (the run directory)")
    enable_compile_cache(resolve_cache_dir(args.compile_cache))
    try:
        root = run_experiment(
            config,
            out,
            resume=args.resume is not None,
            force=args.force,
            tensorboard=args.tensorboard,
            progress=args.progress,
        )
    except (NonFiniteMetricError, DiskFullError) as err:
        print(f"marta train: error: {err}", file=sys.stderr)
        return 1
    except RunInterrupted as err:
        print(f"marta train: {err}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print(
            f"marta train: aborted; the last checkpoint in {out} is kept. Resume with: "
            f"marta train --resume {out}",
            file=sys.stderr,
        )
        return 130
    extra = ", scorecard.json" if (root / "scorecard.json").exists() else ""
    print(f"wrote {root}: config.yaml, seed_*/metrics.jsonl, curves.png, checkpoints/{extra}")
    return 0
