"""`marta bench envs`: environment throughput against the reference implementations;
`marta bench train`: training throughput of the plain learner, the baseline and MARTA."""

from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path

from marta.cli import CliError
from marta.cli.train import _IntermixedParser

#: the Table 1 LBF row (paper protocol: 3 seeds, evaluation of 100 episodes every 10k steps)
TRAIN_BASE = {
    "env_id": "lbf-5x5-4p-1f",
    "learner_name": "qmix",
    "num_seeds": 3,
    "train": {"eval_interval": 10000, "eval_episodes": 100},
}
#: the faults of that row, for the baseline and MARTA
TRAIN_FAULT = ("marta.train_fault.selection=complex", "marta.train_fault.p=0.2")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        help="measure throughput (env steps/s) against references",
        description="envs: random-policy env steps/s of every JAX env against its reference "
        "implementation; train: training segments of the plain learner, the fault-injection "
        "baseline and MARTA on one config (default: Table 1's LBF QMIX row). Section "
        "'bench:envs' or 'bench:train' of --write FILE is replaced.",
    )
    p.add_argument("what", choices=["envs", "train"], help="what to benchmark")
    p.add_argument(
        "--env",
        action="append",
        dest="env_ids",
        help="env id to benchmark (envs: repeatable, default every env with a benchmark case; "
        f"train: one, default {TRAIN_BASE['env_id']})",
    )
    p.add_argument(
        "--learner", help=f"train: the base learner (default {TRAIN_BASE['learner_name']})"
    )
    p.add_argument(
        "--repeats", type=int, default=2, help="train: timed segments after the first (best)"
    )
    p.add_argument(
        "overrides",
        nargs="*",
        metavar="field=value",
        help="train: config overrides, e.g. num_seeds=1 train.eval_interval=20000",
    )
    p.__class__ = _IntermixedParser  # overrides before or after the options
    p.add_argument(
        "--batch", type=int, action="append", dest="batches", help="batch sizes (default 1 64 1024)"
    )
    p.add_argument(
        "--jumanji-python",
        type=Path,
        help="python of a separate venv with jumanji installed: also time Jumanji's JAX LBF "
        "(benchmarks/jumanji_lbf.py) on 6x6-4p-1f against ours in the same run",
    )
    p.add_argument(
        "--jaxmarl-python",
        type=Path,
        help="python of a separate venv with jaxmarl installed: also time JaxMARL's "
        "MPE_simple_tag_v3 (benchmarks/jaxmarl_simple_tag.py) against ours in the same run",
    )
    p.add_argument(
        "--num-envs",
        type=int,
        action="append",
        help="train: parallel training envs per seed (repeatable; default the config's): "
        "fewer updates per env step as it grows",
    )
    p.add_argument(
        "--epymarl-python",
        type=Path,
        help="train: python of a separate venv for EPyMARL (make .venv-epymarl/bin/python): "
        "also time EPyMARL's QMIX on LBF 5x5-4p-1f (benchmarks/epymarl_qmix.py) in the same "
        "run; needs --epymarl-dir",
    )
    p.add_argument("--epymarl-dir", type=Path, help="train: an EPyMARL checkout")
    p.add_argument(
        "--epymarl-steps", type=int, default=30000, help="train: EPyMARL env steps to time"
    )
    p.add_argument("--write", type=Path, help="update this Markdown file (e.g. BENCHMARKS.md)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.what == "train":
        return run_train(args)
    if args.overrides or args.learner or args.num_envs or args.epymarl_python:
        raise CliError(
            "marta bench envs takes no --learner, --num-envs, --epymarl-* or field=value overrides"
        )
    import marta.envs
    from marta.experiments import bench
    from marta.experiments.table import format_table

    env_ids = args.env_ids or [e for e in bench.CASES if e in marta.envs.ENVS]
    for env_id in env_ids:
        try:
            marta.envs.get_entry(env_id)
        except ValueError as error:
            raise CliError(f"--env: {error}") from None
    batches = tuple(args.batches or (1, 64, 1024))
    if any(b < 1 for b in batches):
        raise CliError(f"--batch must be >= 1, got {batches}")
    log = lambda s: print(s, file=sys.stderr)
    rows = bench.bench_envs(env_ids, batches, log=log)
    if args.jumanji_python:
        rows += bench.bench_jumanji_lbf(str(args.jumanji_python), batches, log=log)
    if args.jaxmarl_python:
        rows += bench.bench_jaxmarl_simple_tag(str(args.jaxmarl_python), batches, log=log)
    table = format_table(rows, markdown=True)
    print(table)
    if args.write:
        command = "marta bench envs " + " ".join(
            [f"--env {e}" for e in (args.env_ids or [])]
            + [f"--batch {b}" for b in (args.batches or [])]
            + ([f"--jumanji-python {args.jumanji_python}"] if args.jumanji_python else [])
            + ([f"--jaxmarl-python {args.jaxmarl_python}"] if args.jaxmarl_python else [])
        )
        body = (
            f"Measured {datetime.date.today()} on {bench.machine_description()}.\n"
            f"Command: `{command.strip()}` (random policy, observations computed; env "
            "steps/s, best of 3 after compile; reference = single env in a Python loop, best "
            "of 3, measured in the same run).\n\n" + table
        )
        update_section(args.write, "envs", body)
        print(f"wrote {args.write}", file=sys.stderr)
    return 0


def run_train(args: argparse.Namespace) -> int:
    from marta.experiments import bench
    from marta.experiments.table import format_table

    if args.env_ids and len(args.env_ids) > 1:
        raise CliError("marta bench train takes one --env")
    if args.repeats < 1:
        raise CliError(f"--repeats must be >= 1, got {args.repeats}")
    if bool(args.epymarl_python) != bool(args.epymarl_dir):
        raise CliError("--epymarl-python and --epymarl-dir go together")
    if args.epymarl_dir and not (args.epymarl_dir / "src" / "main.py").is_file():
        raise CliError(
            f"--epymarl-dir: {args.epymarl_dir} has no src/main.py (an EPyMARL checkout)"
        )
    if args.epymarl_steps < 2000:
        raise CliError(f"--epymarl-steps must be >= 2000, got {args.epymarl_steps}")
    base = dict(TRAIN_BASE)
    base["env_id"] = args.env_ids[0] if args.env_ids else base["env_id"]
    base["learner_name"] = args.learner or base["learner_name"]
    overrides = tuple(args.overrides)
    num_envs = tuple(args.num_envs or ())
    # every config valid before compiling
    configs = bench.bench_configs(base, TRAIN_FAULT, overrides, num_envs)
    log = lambda s: print(s, file=sys.stderr)
    reference = None
    if args.epymarl_python:
        reference = bench.bench_epymarl_qmix(
            str(args.epymarl_python), str(args.epymarl_dir), args.epymarl_steps, log
        )
    rows = bench.bench_training(configs, repeats=args.repeats, log=log, reference=reference)
    table = format_table(rows, markdown=True)
    print(table)
    if args.write:
        command = " ".join(
            ["marta bench train"]
            + [f"--env {e}" for e in (args.env_ids or [])]
            + ([f"--learner {args.learner}"] if args.learner else [])
            + [f"--num-envs {e}" for e in num_envs]
            + [f"--repeats {args.repeats}"]
            + (
                [
                    f"--epymarl-python {args.epymarl_python} --epymarl-dir EPYMARL_DIR "
                    f"--epymarl-steps {args.epymarl_steps}"
                ]
                if args.epymarl_python
                else []
            )
            + list(overrides)
        )
        body = (
            f"Measured {datetime.date.today()} on {bench.machine_description()}.\n"
            f"Command: `{command}`: {base['env_id']}, {base['learner_name']}, "
            f"faults {' '.join(TRAIN_FAULT)} for the baseline (uniform) and "
            "MARTA (worst case, Switcher), none for the plain learner; config defaults "
            f"otherwise, overrides: {' '.join(overrides) or 'none'}. A segment is "
            "train.eval_interval env steps of every seed, with its evaluation; best of "
            f"{args.repeats} segments after the first."
            + (
                " EPyMARL's QMIX: its default config (one update per episode, feed-forward "
                "agent network), env steps/s after its first update, one thread "
                "(benchmarks/epymarl_qmix.py)."
                if reference
                else ""
            )
            + "\n\n"
            + table
        )
        update_section(args.write, "train", body)
        print(f"wrote {args.write}", file=sys.stderr)
    return 0


def update_section(path: Path, name: str, body: str) -> None:
    """Replaces the block between `<!-- bench:NAME -->` markers in `path` (appends if absent)."""
    from marta.experiments.io import atomic_write_text

    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    block = f"{start}\n{body}\n{end}"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    atomic_write_text(path, text)
