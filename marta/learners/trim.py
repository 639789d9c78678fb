"""Updates on episode batches cut to their longest episode (EPyMARL's ``max_t_filled``).

Episodes are stored padded to the time limit T, but a trained team's episodes are often far
shorter (LBF: under 10 of 50 steps; Traffic Junction: 20-40 of 100), and a recurrent update
costs time linear in the padded length. EPyMARL cuts every sampled batch to its longest
episode before the update (``batch[:, :batch.max_t_filled()]`` in its run loop). Under ``jit``
shapes are static, so `trim_padding` compiles the update for a few cut lengths (T, T/2, T/4,
... : `bucket_lengths`) and runs, with ``lax.switch``, the shortest one that holds every
filled step of the batch.

The cut changes nothing a learner computes from filled steps: a recurrent Q-value depends
only on earlier steps, and the TD targets and losses (`marta.learners.value`) mask padding
and bootstrap from V at an episode's last step; the loss and gradient equal those of the
padded batch up to float rounding (`tests/test_trim.py`). Cutting the unroll alone and
skipping the rest with ``lax.cond`` inside one compiled program was tried: bit-identical, but
30% slower at full length and only 1.5x faster at a tenth of it on this CPU.

Seeds: training vmaps the seeds (`vmap_seeds`: ``jax.vmap(..., axis_name=SEED_AXIS)``).
Under ``vmap`` a per-seed branch index would turn ``lax.switch`` into a select that runs
every branch, so the cut is the longest over all seeds (``lax.pmax`` over `SEED_AXIS`),
which keeps one real conditional. Without `SEED_AXIS` bound (a single unvmapped update, or a
caller that vmaps without the name) the cut is the batch's own: correct either way, and fast
when the name is bound or there is no vmap.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import jax
import jax.numpy as jnp

from marta.learners.replay import Episode

#: axis name of the seed ``vmap`` in training (`vmap_seeds`)
SEED_AXIS = "seeds"

S = TypeVar("S")
F = TypeVar("F", bound=Callable)
Update = Callable[[jax.Array, S, Episode], tuple[S, dict[str, jax.Array]]]


def vmap_seeds(fn: F) -> F:
    """``jax.vmap(fn, axis_name=SEED_AXIS)``: vmap over the seeds of a run, so that updates
    cut every seed's batch at one length (`trim_padding`)."""
    return jax.vmap(fn, axis_name=SEED_AXIS)


def bucket_lengths(max_steps: int, length_buckets: int, min_length: int = 1) -> tuple[int, ...]:
    """The cut lengths, shortest first: max_steps halved ``length_buckets - 1`` times
    (rounded up, duplicates dropped), e.g. (25, 50, 100) for 100 steps and 3 buckets; cuts
    shorter than `min_length` are left out (max_steps itself always stays)."""
    cuts = {-(-max_steps // 2**k) for k in range(length_buckets)}
    return tuple(sorted({c for c in cuts if c >= min_length} | {max_steps}))


def filled_length(filled: jax.Array) -> jax.Array:
    """i32[]: the number of leading steps that hold every filled step of a batch
    (filled: bool[B, T]), the longest over the seeds when `SEED_AXIS` is bound."""
    length = jnp.max(jnp.where(filled, jnp.arange(1, filled.shape[-1] + 1), 0))
    try:
        return jax.lax.pmax(length, SEED_AXIS)
    except NameError:  # no seed vmap with that name around this call
        return length


def trim_episodes(batch: Episode, steps: int) -> Episode:
    """The first `steps` transitions of every episode of a batch (with the `steps + 1`
    observations, states and available actions that they need)."""
    return Episode(
        obs=batch.obs[:, : steps + 1],
        state=batch.state[:, : steps + 1],
        avail=batch.avail[:, : steps + 1],
        actions=batch.actions[:, :steps],
        reward=batch.reward[:, :steps],
        terminated=batch.terminated[:, :steps],
        filled=batch.filled[:, :steps],
    )


def trim_padding(update: Update, length_buckets: int, min_length: int = 1) -> Update:
    """Wrap ``update(key, state, batch)`` so that it runs on the batch cut to the shortest of
    `bucket_lengths` holding its longest episode; where there is only one length (e.g.
    ``length_buckets = 1``) the batch keeps its padded length and `update` runs as it is."""

    def trimmed(key: jax.Array, state: S, batch: Episode) -> tuple[S, dict[str, jax.Array]]:
        lengths = bucket_lengths(batch.filled.shape[-1], length_buckets, min_length)
        if len(lengths) == 1:
            return update(key, state, batch)
        index = jnp.searchsorted(jnp.asarray(lengths), filled_length(batch.filled))
        branches = [
            lambda key, state, batch, steps=steps: update(key, state, trim_episodes(batch, steps))
            for steps in lengths
        ]
        return jax.lax.switch(index, branches, key, state, batch)

    return trimmed
