"""What cutting a batch to its longest episode saves in one update (`marta.learners.trim`).

Times the vmapped update of a value learner (`learner.update` under `vmap_seeds`, as the
trainer runs it) on synthetic batches whose longest episode is L steps, with
``length_buckets = 1`` (the padded length T always) and with the default buckets (T, T/2,
T/4), L = T/5, T/2 and T:

    python benchmarks/update_trim.py --env lbf-5x5-4p-1f --env tj-4

Run it pinned to one core (``taskset -c 0``) with XLA single-threaded, as training runs.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from update_flops import best_time, parse_update_args  # benchmarks/, run as a script

import marta.envs
from marta.learners import ValueLearnerConfig, make_learner
from marta.learners.replay import random_episodes
from marta.learners.trim import vmap_seeds


def measure(env_id: str, learner_name: str, seeds: int, repeats: int) -> dict[tuple, float]:
    """{(length_buckets, L): best update time in ms} for one env (all seeds vmapped)."""
    env = marta.envs.make(env_id)
    steps = env.spec["max_steps"]
    keys = jax.random.split(jax.random.key(0), seeds)
    full = jax.vmap(lambda k: random_episodes(k, env.spec, 32, steps))(keys)
    default = ValueLearnerConfig().length_buckets
    times: dict[tuple, float] = {}
    for buckets in (1, default):
        learner = make_learner(learner_name, ValueLearnerConfig(length_buckets=buckets), env.spec)
        state = jax.vmap(learner.init)(keys)
        update = jax.jit(vmap_seeds(learner.update))
        for length in (steps // 5, steps // 2, steps):
            batch = full.replace(filled=full.filled & (jnp.arange(steps) < length))
            times[buckets, length] = best_time(update, keys, state, batch, repeats=repeats) * 1e3
    return times


def main() -> None:
    args = parse_update_args(__doc__.splitlines()[0])
    print(f"{args.learner}, {args.seeds} seeds vmapped, batch of 32 episodes, update time in ms")
    print("| env | longest episode L | padded (length_buckets=1) | cut | speed-up |")
    print("|---|---|---|---|---|")
    for env_id in args.env or ["lbf-5x5-4p-1f"]:
        times = measure(env_id, args.learner, args.seeds, args.repeats)
        default = max(b for b, _ in times)
        for (buckets, length), ms in sorted(times.items()):
            if buckets == default:
                padded = times[1, length]
                print(f"| {env_id} | {length} | {padded:.0f} | {ms:.0f} | {padded / ms:.1f}x |")


if __name__ == "__main__":
    main()
