"""Updates on batches cut to their longest episode (`marta.learners.trim`): the cut lengths,
the length over seeds, and the update equal to the one on the padded batch."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from marta.learners import make_learner
from marta.learners.config import ValueLearnerConfig
from marta.learners.replay import random_episodes
from marta.learners.trim import bucket_lengths, filled_length, vmap_seeds

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


def _seed_batches(lengths: list[int], terminated: bool):
    """One batch of 8 episodes per seed; seed k's episodes are at most lengths[k] steps."""
    keys = jax.random.split(jax.random.key(3), len(lengths))
    batch = jax.vmap(lambda k: random_episodes(k, SPEC, 8, STEPS))(keys)
    ends = jax.random.randint(
        jax.random.key(4), (len(lengths), 8), 1, 1 + jnp.asarray(lengths)[:, None]
    )
    t = jnp.arange(STEPS)
    filled = t[None, None, :] < ends[..., None]
    done = (t[None, None, :] == ends[..., None] - 1) & terminated
    return batch.replace(filled=filled, terminated=done, reward=batch.reward * filled)


@pytest.mark.parametrize(
    ("learner", "lengths", "overrides", "terminated"),
    [
        ("qmix", [7, 4, 9], {}, True),  # cut at 10 of 40
        ("vdn", [15, 3, 2], {"td_lambda": 0.6, "bootstrap_on_truncation": False}, False),  # 20
        ("iql", [40, 3, 2], {}, False),  # a full-length episode: no cut
    ],
)
def test_cut_update_equals_the_padded_update(learner, lengths, overrides, terminated):
    keys = jax.random.split(jax.random.key(0), len(lengths))
    batch = _seed_batches(lengths, terminated)
    results = {}
    for buckets in (1, 3):
        config = ValueLearnerConfig(length_buckets=buckets, **overrides)
        built = make_learner(learner, config, SPEC)
        state = jax.vmap(built.init)(keys)
        update = jax.jit(vmap_seeds(built.update))
        results[buckets] = update(keys, state, batch)
    (padded, padded_metrics), (cut, cut_metrics) = results[1], results[3]
    for a, b in zip(jax.tree.leaves(padded.params), jax.tree.leaves(cut.params), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    for name in ("loss", "grad_norm", "q_taken_mean", "target_mean"):
        np.testing.assert_allclose(padded_metrics[name], cut_metrics[name], rtol=1e-5, atol=1e-6)
    # and the update did change the parameters (the comparison is not between no-ops)
    before = jax.vmap(make_learner(learner, ValueLearnerConfig(**overrides), SPEC).init)(keys)
    moved = jax.tree.leaves(
        jax.tree.map(lambda a, b: jnp.abs(a - b).max(), cut.params, before.params)
    )
    assert max(float(x) for x in moved) > 1e-6


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
