"""Updates on episode batches cut to their filled steps (EPyMARL's ``max_t_filled``, and
further: in groups of episodes of similar length).

Episodes are stored padded to the time limit T, but a trained team's episodes are often far
shorter (LBF: under 10 of 50 steps; Traffic Junction: 20-40 of 100), and a recurrent update
costs time linear in the padded length. EPyMARL cuts every sampled batch to its longest
episode before the update (``batch[:, :batch.max_t_filled()]`` in its run loop). Under ``jit``
shapes are static, so `cut_value_and_grad` compiles the loss and gradient for a few cut
lengths (T, T/2, T/4, ... : `bucket_lengths`) and runs, with ``lax.switch``, the shortest one
that holds every filled step. One long episode (a time-out under faults) would still hold
the whole batch at T, so the episodes can be sorted by length and cut in groups
(``length_groups``), each group to its own longest episode, the groups' gradients summed
with weights (their shares of the filled steps) that make the sum the batch's gradient.

The cut changes nothing a learner computes from filled steps: a recurrent Q-value depends
only on earlier steps, and the TD targets and losses (`marta.learners.value`) mask padding
and bootstrap from V at an episode's last step; the loss and gradient equal those of the
padded batch up to float rounding (`tests/test_trim.py`). Cutting the unroll alone and
skipping the rest with ``lax.cond`` inside one compiled program was tried: bit-identical, but
30% slower at full length and only 1.5x faster at a tenth of it on this CPU.

Seeds: training vmaps the seeds (`vmap_seeds`: ``jax.vmap(..., axis_name=SEED_AXIS)``).
Under ``vmap`` a per-seed branch index would turn ``lax.switch`` into a select that runs
every branch, so a cut is the longest over all seeds (of the batch, or of the k-th group of
every seed: ``lax.pmax`` over `SEED_AXIS`), which keeps one real conditional. Without
`SEED_AXIS` bound (a single unvmapped update, or a caller that vmaps without the name) the
cut is the batch's own: correct either way, and fast when the name is bound or there is no
vmap.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import jax
import jax.numpy as jnp

from marta.learners.replay import Episode

#: axis name of the seed ``vmap`` in training (`vmap_seeds`)
SEED_AXIS = "seeds"

F = TypeVar("F", bound=Callable)
Loss = Callable[..., tuple[jax.Array, dict[str, jax.Array]]]


def vmap_seeds(fn: F) -> F:
    """``jax.vmap(fn, axis_name=SEED_AXIS)``: vmap over the seeds of a run, so that updates
    cut every seed's batch (or k-th group) at one length (`cut_value_and_grad`)."""
    return jax.vmap(fn, axis_name=SEED_AXIS)


def bucket_lengths(max_steps: int, length_buckets: int, min_length: int = 1) -> tuple[int, ...]:
    """The cut lengths, shortest first: max_steps halved ``length_buckets - 1`` times
    (rounded up, duplicates dropped), e.g. (25, 50, 100) for 100 steps and 3 buckets; cuts
    shorter than `min_length` are left out (max_steps itself always stays)."""
    cuts = {-(-max_steps // 2**k) for k in range(length_buckets)}
    return tuple(sorted({c for c in cuts if c >= min_length} | {max_steps}))


def seed_max(x: jax.Array) -> jax.Array:
    """`x`, elementwise, at its largest over the seeds when `SEED_AXIS` is bound (else `x`)."""
    try:
        return jax.lax.pmax(x, SEED_AXIS)
    except NameError:  # no seed vmap with that name around this call
        return x


def filled_length(filled: jax.Array) -> jax.Array:
    """i32[]: the number of leading steps that hold every filled step of a batch
    (filled: bool[B, T]), the longest over the seeds when `SEED_AXIS` is bound."""
    return seed_max(jnp.max(jnp.where(filled, jnp.arange(1, filled.shape[-1] + 1), 0)))


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


def episode_lengths(filled: jax.Array) -> jax.Array:
    """i32[B]: each episode's number of filled steps (filled: bool[B, T], padding at the end)."""
    return filled.sum(axis=-1, dtype=jnp.int32)


#: groups are used only when their cuts, on average, are at most this fraction of the
#: batch's cut: on the same Traffic Junction replay (episodes mostly 80-100 of 100 steps), a
#: training segment took 1.25x as long in 4 groups as whole (docs/learners.md)
GROUPS_PAY_BELOW = 0.75


def cut_value_and_grad(
    loss: Loss, length_buckets: int, min_length: int = 1, groups: int = 1
) -> Callable[..., tuple[tuple[jax.Array, dict[str, jax.Array]], Any]]:
    """``jax.value_and_grad(loss, has_aux=True)`` computed on the batch cut to its filled
    steps: the whole batch runs on the shortest of `bucket_lengths` that holds its longest
    episode, or, with `groups` > 1, the episodes are sorted by length and split into equal
    groups, each cut to its own longest episode, when that shortens the average cut enough
    (`GROUPS_PAY_BELOW`).

    `loss(params, *args, batch) -> (value, aux)` must be a mean over the batch's filled
    steps (``masked_td_loss``), so that the batch's loss and aux are the groups' ones
    weighted by their shares of the filled steps, and its gradient is their weighted sum
    (exact up to float rounding; `tests/test_trim.py`). The groups run one after the other
    in a ``lax.scan``: each cut length is compiled once for the whole batch and once for a
    group. With one cut length (T) this is plain ``value_and_grad``."""
    value_and_grad = jax.value_and_grad(loss, has_aux=True)

    def cut(params: Any, *args: Any) -> tuple[tuple[jax.Array, dict[str, jax.Array]], Any]:
        *rest, batch = args
        lengths = bucket_lengths(batch.filled.shape[-1], length_buckets, min_length)
        if len(lengths) == 1:  # nothing to cut (and every group would be cut at T)
            return value_and_grad(params, *rest, batch)
        steps = jnp.asarray(lengths)
        branches = [
            lambda episodes, n=n: value_and_grad(params, *rest, trim_episodes(episodes, n))
            for n in lengths
        ]

        def whole(batch: Episode) -> tuple[tuple[jax.Array, dict[str, jax.Array]], Any]:
            index = jnp.searchsorted(steps, filled_length(batch.filled))
            return jax.lax.switch(index, branches, batch)

        if groups == 1:
            return whole(batch)
        size = batch.filled.shape[0] // groups
        episode_steps = episode_lengths(batch.filled)
        order = jnp.argsort(episode_steps)
        batch = jax.tree.map(lambda x: x[order], batch)
        # each group's longest episode is its last one (over the seeds: the k-th groups)
        index = jnp.searchsorted(steps, seed_max(episode_steps[order][size - 1 :: size]))
        total = jnp.maximum(batch.filled.sum(), 1)

        def add_group(sums: Any, group: tuple[Episode, jax.Array]) -> tuple[Any, None]:
            episodes, group_index = group
            out = jax.lax.switch(group_index, branches, episodes)
            share = episodes.filled.sum() / total
            return jax.tree.map(lambda s, x: s + share * x, sums, out), None

        def in_groups(batch: Episode) -> tuple[tuple[jax.Array, dict[str, jax.Array]], Any]:
            grouped = jax.tree.map(lambda x: x.reshape(groups, size, *x.shape[1:]), batch)
            first = jax.tree.map(lambda x: x[0], grouped)
            zeros = jax.tree.map(jnp.zeros_like, jax.eval_shape(branches[-1], first))
            return jax.lax.scan(add_group, zeros, (grouped, index))[0]

        pays = steps[index].mean() <= GROUPS_PAY_BELOW * steps[index[-1]]
        return jax.lax.cond(pays, in_groups, whole, batch)

    return cut
