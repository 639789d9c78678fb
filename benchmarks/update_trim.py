"""What cutting a batch to its filled steps saves in one update (`marta.learners.trim`).

Times the vmapped update of a value learner (`learner.update` under `vmap_seeds`, as the
trainer runs it) on synthetic batches of 32 episodes, with ``length_buckets = 1`` (the
padded length T always), with the default buckets (T, T/2, T/4) and the whole batch cut to
its longest episode (``length_groups = 1``), and with the episodes sorted by length and cut
in 2, 4 or 8 groups. Batches: every episode at most L steps (L = T/5, T/2, T), and a
*skewed* one, as replay batches are late in training: 31 episodes of 1 to T/10 steps and
one of T steps.

    python benchmarks/update_trim.py --env lbf-5x5-4p-1f --env tj-4

Run it pinned to one core (``taskset -c 0``) with XLA single-threaded, as training runs.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from update_flops import best_time, update_parser  # benchmarks/, run as a script

import marta.envs
from marta.learners import ValueLearnerConfig, make_learner
from marta.learners.replay import random_episodes
from marta.learners.trim import vmap_seeds

#: (label, length_buckets, length_groups) of the compared updates
CONFIGS = (
    ("padded", 1, 1),
    ("cut", 3, 1),
    ("2 groups", 3, 2),
    ("4 groups", 3, 4),
    ("8 groups", 3, 8),
)
BATCH = 32


def measure(env_id: str, learner_name: str, seeds: int, repeats: int) -> list[list]:
    """[batch label, ms per config...] rows for one env: the best update time (all seeds
    vmapped) of each of `CONFIGS` on each test batch."""
    env = marta.envs.make(env_id)
    steps = env.spec["max_steps"]
    keys = jax.random.split(jax.random.key(0), seeds)
    full = jax.vmap(lambda k: random_episodes(k, env.spec, BATCH, steps))(keys)
    skewed_lengths = jnp.concatenate(
        [1 + jnp.arange(BATCH - 1) % max(steps // 10, 1), jnp.array([steps])]
    )
    batches = {f"L = {n}": with_lengths(full, jnp.full(BATCH, n)) for n in (steps // 5, steps // 2)}
    batches[f"L = {steps}"] = full
    batches["skewed"] = with_lengths(full, skewed_lengths)
    rows = [[label] for label in batches]
    for _, buckets, groups in CONFIGS:
        config = ValueLearnerConfig(length_buckets=buckets, length_groups=groups)
        learner = make_learner(learner_name, config, env.spec)
        state = jax.vmap(learner.init)(keys)
        update = jax.jit(vmap_seeds(learner.update))
        for row, batch in zip(rows, batches.values(), strict=True):
            row.append(best_time(update, keys, state, batch, repeats=repeats) * 1e3)
    return rows


def with_lengths(batch, lengths: jax.Array):
    """`batch` with episode i's steps from ``lengths[i]`` on marked as padding."""
    t = jnp.arange(batch.filled.shape[-1])
    return batch.replace(filled=batch.filled & (t < lengths[:, None]))


def main() -> None:
    args = update_parser(__doc__.splitlines()[0]).parse_args()
    print(f"{args.learner}, {args.seeds} seeds vmapped, batch of {BATCH} episodes, update ms")
    labels = [label for label, _, _ in CONFIGS]
    print("| env | batch | " + " | ".join(labels) + " | best speed-up |")
    print("|---|---|" + "---|" * (len(labels) + 1))
    for env_id in args.env or ["lbf-5x5-4p-1f"]:
        for name, *times in measure(env_id, args.learner, args.seeds, args.repeats):
            cells = " | ".join(f"{t:.0f}" for t in times)
            print(f"| {env_id} | {name} | {cells} | {times[0] / min(times):.1f}x |", flush=True)


if __name__ == "__main__":
    main()
