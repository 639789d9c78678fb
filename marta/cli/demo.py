"""`marta demo`: the small default job behind `make demo`.

Until MARTA training lands, the demo checks the JAX Level-Based Foraging environment against
the reference `lbforaging` package: random-policy episodes of both, a printed table of their
return and length, and a saved histogram of episode returns.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the small default demo (what `make demo` runs)")
    p.add_argument("--out", type=Path, default=Path("runs/demo"), help="output directory")
    p.add_argument("--env", default="lbf-5x5-4p-1f", help="JAX environment id")
    p.add_argument("--episodes", type=int, default=2000, help="random episodes per implementation")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run)


def _reference_episodes(env_id: str, episodes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from marta.envs.host import HostEnv

    ref = HostEnv.from_gymnasium(env_id)
    rng = np.random.default_rng(seed)
    obs, state = ref.reset(seed)
    returns, lengths = [], []
    while len(returns) < episodes:
        avail = ref.avail_actions(state)
        actions = np.array([rng.choice(np.flatnonzero(row)) for row in avail])
        obs, state, _, done, info = ref.step(None, state, actions)
        if done:
            returns.append(info["episode_return"])
            lengths.append(info["episode_length"])
    return np.asarray(returns), np.asarray(lengths)


def run(args: argparse.Namespace) -> int:
    import jax

    import marta.envs
    from marta.cli import CliError
    from marta.experiments.table import format_table

    if args.episodes < 1:
        raise CliError(f"--episodes must be >= 1, got {args.episodes}")
    env = marta.envs.make(args.env)
    reference_id = {
        "lbf-5x5-4p-1f": "Foraging-5x5-4p-1f-v3",
        "lbf-5x5-2p-1f": "Foraging-5x5-2p-1f-v3",
        "lbf-5x5-3p-1f": "Foraging-5x5-3p-1f-v3",
        "lbf-8x8-2p-2f-coop": "Foraging-8x8-2p-2f-coop-v3",
    }.get(args.env)

    # One episode per environment: every env finishes its first episode within max_steps,
    # so taking each env's first episode is an unbiased sample (taking the first episodes to
    # finish across envs would over-sample short, successful ones).
    t0 = time.perf_counter()
    out = marta.envs.rollout(
        env, marta.envs.random_policy, jax.random.key(args.seed), args.episodes, env.max_steps
    )
    first = np.argmax(np.asarray(out.done), axis=0)
    cols = np.arange(args.episodes)
    ours_ret = np.asarray(out.episode_return)[first, cols]
    ours_len = np.asarray(out.episode_length)[first, cols]
    ours_s = time.perf_counter() - t0

    rows = [_row(f"marta {args.env} (JAX)", ours_ret, ours_len, ours_s)]
    results = {"marta": ours_ret}
    if reference_id is not None:
        t0 = time.perf_counter()
        ref_ret, ref_len = _reference_episodes(reference_id, args.episodes, args.seed)
        rows.append(_row(f"lbforaging {reference_id}", ref_ret, ref_len, time.perf_counter() - t0))
        results["lbforaging"] = ref_ret
    print(format_table(rows))

    args.out.mkdir(parents=True, exist_ok=True)
    plot = args.out / "demo_returns.png"
    _plot(results, plot, f"{args.env}: random-policy episode returns")
    print(f"\nsaved {plot}", file=sys.stderr)
    return 0


def _row(name: str, returns: np.ndarray, lengths: np.ndarray, seconds: float) -> dict:
    sem = returns.std(ddof=1) / np.sqrt(len(returns)) if len(returns) > 1 else float("nan")
    return {
        "implementation": name,
        "episodes": len(returns),
        "return_mean": float(returns.mean()),
        "return_sem": float(sem),
        "length_mean": float(lengths.mean()),
        "wall_s": round(seconds, 2),
    }


def _plot(results: dict[str, np.ndarray], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    bins = np.linspace(0.0, 1.0, 21)
    for name, returns in results.items():
        ax.hist(
            returns, bins=bins, alpha=0.5, density=True, label=f"{name} (mean {returns.mean():.3f})"
        )
    ax.set(xlabel="episode team return", ylabel="density", title=title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
