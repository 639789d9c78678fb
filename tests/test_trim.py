"""Updates on batches cut to their filled steps (`marta.learners.trim`): the cut lengths, the
length over seeds, and the update, whole batch or in groups sorted by length, equal to the
one on the padded batch."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from marta.learners import make_learner
from marta.learners.config import ValueLearnerConfig
from marta.learners.replay import random_episodes
from marta.learners.trim import (
    SEED_AXIS,
    bucket_lengths,
    cut_value_and_grad,
    filled_length,
    vmap_seeds,
)

SPEC = {"num_agents": 3, "num_actions": 4, "obs_dim": 6, "state_dim": 9}
STEPS = 40


def test_bucket_lengths_halve_the_time_limit():
    assert bucket_lengths(100, 3) == (25, 50, 100)
    assert bucket_lengths(50, 3) == (13, 25, 50)
    assert bucket_lengths(50, 1) == (50,)
    assert bucket_lengths(3, 4) == (1, 2, 3)  # duplicates dropped
    assert bucket_lengths(25, 3, min_length=8) == (13, 25)  # MPE: the 7-step cut is dropped
    assert bucket_lengths(10, 3, min_length=8) == (10,)  # matrix games: no cut at all
    assert bucket_lengths(5, 3, min_length=8) == (5,)  # T itself always stays


def test_filled_length_is_the_longest_over_the_named_seed_axis():
    filled = jnp.arange(STEPS)[None, None, :] < jnp.array([5, 17, 9])[:, None, None]
    filled = jnp.broadcast_to(filled, (3, 2, STEPS))
    np.testing.assert_array_equal(jax.vmap(filled_length)(filled), [5, 17, 9])
    np.testing.assert_array_equal(vmap_seeds(filled_length)(filled), [17, 17, 17])


def _seed_batches(lengths: list[int], terminated: bool, long: int | None = None):
    """One batch of 8 episodes per seed; seed k's episodes are at most lengths[k] steps,
    except, with `long`, the last one, of `long` steps (as in a replay batch late in
    training: one long episode would hold the whole batch at its length)."""
    keys = jax.random.split(jax.random.key(3), len(lengths))
    batch = jax.vmap(lambda k: random_episodes(k, SPEC, 8, STEPS))(keys)
    ends = jax.random.randint(
        jax.random.key(4), (len(lengths), 8), 1, 1 + jnp.asarray(lengths)[:, None]
    )
    if long is not None:
        ends = ends.at[:, -1].set(long)
    t = jnp.arange(STEPS)
    filled = t[None, None, :] < ends[..., None]
    done = (t[None, None, :] == ends[..., None] - 1) & terminated
    return batch.replace(filled=filled, terminated=done, reward=batch.reward * filled)


@pytest.mark.parametrize(
    ("learner", "lengths", "long", "groups", "overrides", "terminated"),
    [
        ("qmix", [7, 4, 9], None, 1, {}, True),  # cut at 10 of 40
        ("vdn", [15, 3, 2], None, 1, {"td_lambda": 0.6, "bootstrap_on_truncation": False}, False),
        ("iql", [40, 3, 2], None, 1, {}, False),  # a full-length episode: no cut
        ("qmix", [7, 4, 9], 30, 4, {}, True),  # whole batch at 40; in 4 groups 10, 10, 10, 40
    ],
)
def test_cut_update_equals_the_padded_update(learner, lengths, long, groups, overrides, terminated):
    keys = jax.random.split(jax.random.key(0), len(lengths))
    batch = _seed_batches(lengths, terminated, long)
    results = {}
    for buckets, in_groups in ((1, 1), (3, groups)):
        config = ValueLearnerConfig(length_buckets=buckets, length_groups=in_groups, **overrides)
        built = make_learner(learner, config, SPEC)
        state = jax.vmap(built.init)(keys)
        update = jax.jit(vmap_seeds(built.update))
        results[buckets, in_groups] = update(keys, state, batch)
    (padded, padded_metrics), (cut, cut_metrics) = results.values()
    for a, b in zip(jax.tree.leaves(padded.params), jax.tree.leaves(cut.params), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    for name in ("loss", "grad_norm", "q_taken_mean", "target_mean", "td_abs_mean"):
        np.testing.assert_allclose(
            padded_metrics[name], cut_metrics[name], rtol=1e-5, atol=1e-6, err_msg=name
        )
    # and the update did change the parameters (the comparison is not between no-ops)
    before = jax.vmap(make_learner(learner, ValueLearnerConfig(**overrides), SPEC).init)(keys)
    moved = jax.tree.leaves(
        jax.tree.map(lambda a, b: jnp.abs(a - b).max(), padded.params, before.params)
    )
    assert max(float(x) for x in moved) > 1e-6


def _cut_and_size(lengths: list[int], long: int | None) -> tuple[np.ndarray, ...]:
    """Per seed: the cut length and the number of episodes that the loss saw, each weighted
    by the share of filled steps (a loss that reports them), in 4 groups where they pay;
    and the batch's filled mask."""
    cut = cut_value_and_grad(
        lambda params, batch: (
            params * batch.filled.shape[-1],
            {"episodes": jnp.float32(batch.filled.shape[0])},
        ),
        length_buckets=3,
        groups=4,
    )
    batch = _seed_batches(lengths, True, long)
    (value, aux), grad = jax.vmap(lambda b: cut(jnp.ones(()), b), axis_name=SEED_AXIS)(batch)
    np.testing.assert_allclose(grad, value)  # d(params * T) / d params = T
    return np.asarray(value), np.asarray(aux["episodes"]), np.asarray(batch.filled)


def test_groups_are_cut_each_to_their_own_longest_episode():
    """Sorted by length, the 8 episodes of each seed form 4 groups of 2; each group's cut is
    the shortest bucket holding its longest episode over the seeds (10, 10, 10, 40 here: on
    average under 3/4 of the batch's 40, so the groups are used)."""
    value, episodes, filled = _cut_and_size([7, 4, 9], long=30)
    steps = np.sort(filled.sum(-1), axis=-1).reshape(3, 4, 2).sum(-1)  # per seed and group
    expected = (steps * np.array([10, 10, 10, 40])).sum(-1) / steps.sum(-1)
    np.testing.assert_allclose(value, expected, rtol=1e-6)
    np.testing.assert_allclose(episodes, 2.0, rtol=1e-6)


def test_groups_are_not_used_where_they_do_not_pay():
    """Episodes of up to 35-38 steps: the groups' cuts would average over 3/4 of the batch's
    40, so the whole batch runs at once (8 episodes, cut at 40)."""
    value, episodes, filled = _cut_and_size([35, 38, 36], long=None)
    group_longest = np.sort(filled.sum(-1), axis=-1)[:, 1::2].max(0)  # over the seeds
    cuts = np.asarray(bucket_lengths(STEPS, 3))
    assert cuts[np.searchsorted(cuts, group_longest)].mean() > 0.75 * STEPS
    np.testing.assert_allclose(value, 40.0)
    np.testing.assert_allclose(episodes, 8.0)


def test_the_seed_axis_keeps_one_real_branch():
    """Under `vmap_seeds` the cut is one conditional (not a select over every branch)."""
    built = make_learner("vdn", ValueLearnerConfig(), SPEC)
    keys = jax.random.split(jax.random.key(0), 2)
    state = jax.vmap(built.init)(keys)
    batch = _seed_batches([5, 6], True)
    named = str(jax.make_jaxpr(vmap_seeds(built.update))(keys, state, batch))
    unnamed = str(jax.make_jaxpr(jax.vmap(built.update))(keys, state, batch))
    assert " cond[" in named and "pmax" in named
    assert " cond[" not in unnamed  # batched index: every branch runs, then a select
    whole = make_learner("vdn", ValueLearnerConfig(min_bucket_length=STEPS), SPEC)
    only = str(jax.make_jaxpr(vmap_seeds(whole.update))(keys, state, batch))
    assert " cond[" not in only and "pmax" not in only  # one length left: no switch at all
    grouped = make_learner("vdn", ValueLearnerConfig(length_groups=4), SPEC)
    in_groups = str(jax.make_jaxpr(vmap_seeds(grouped.update))(keys, state, batch))
    assert " scan[" in in_groups and " cond[" in in_groups and "pmax" in in_groups
