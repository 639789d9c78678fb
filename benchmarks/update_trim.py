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


def measure(env_id: str, learner_name: str, seeds: int, repeats: int) -> list[tuple]:
    """(L, padded ms, cut ms) rows for one env: the best update time (all seeds vmapped) with
    ``length_buckets = 1`` and with the default, for the longest episode L = T/5, T/2, T."""
    env = marta.envs.make(env_id)
    steps = env.spec["max_steps"]
    keys = jax.random.split(jax.random.key(0), seeds)
    full = jax.vmap(lambda k: random_episodes(k, env.spec, 32, steps))(keys)
    lengths = (steps // 5, steps // 2, steps)
    columns = []
    for buckets in (1, ValueLearnerConfig().length_buckets):
        learner = make_learner(learner_name, ValueLearnerConfig(length_buckets=buckets), env.spec)
        state = jax.vmap(learner.init)(keys)
        update = jax.jit(vmap_seeds(learner.update))
        columns.append(
            [
                best_time(update, keys, state, cut_to(full, length), repeats=repeats) * 1e3
                for length in lengths
            ]
        )
    return list(zip(lengths, *columns, strict=True))


def cut_to(batch, length: int):
    """`batch` with its episodes' steps from `length` on marked as padding."""
    return batch.replace(filled=batch.filled & (jnp.arange(batch.filled.shape[-1]) < length))


def main() -> None:
    args = parse_update_args(__doc__.splitlines()[0])
    print(f"{args.learner}, {args.seeds} seeds vmapped, batch of 32 episodes, update time in ms")
    print("| env | longest episode L | padded (length_buckets=1) | cut | speed-up |")
    print("|---|---|---|---|---|")
    for env_id in args.env or ["lbf-5x5-4p-1f"]:
        for length, padded, cut in measure(env_id, args.learner, args.seeds, args.repeats):
            print(f"| {env_id} | {length} | {padded:.0f} | {cut:.0f} | {padded / cut:.1f}x |")


if __name__ == "__main__":
    main()
