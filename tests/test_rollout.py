"""`marta.envs.random_policy` and `rollout`."""

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import marta.envs

_sample = jax.jit(jax.vmap(marta.envs.random_policy, in_axes=(0, None, None)), static_argnums=())


@settings(max_examples=25, deadline=None)
@given(st.lists(st.lists(st.booleans(), min_size=6, max_size=6), min_size=3, max_size=3))
def test_random_policy_is_uniform_over_available_actions(rows):
    avail = np.array(rows)
    avail[:, 0] |= ~avail.any(axis=1)  # every agent has at least one available action
    keys = jax.random.split(jax.random.key(0), 4000)
    actions = np.asarray(_sample(keys, jnp.zeros((3, 1)), jnp.asarray(avail)))
    for i in range(3):
        assert avail[i, actions[:, i]].all(), "an unavailable action was chosen"
        counts = np.bincount(actions[:, i], minlength=6)[avail[i]]
        expected = 4000 / avail[i].sum()
        # 5 standard deviations of a binomial count
        assert np.all(np.abs(counts - expected) < 5 * np.sqrt(expected) + 1)


def test_rollout_shapes_and_time_major_layout():
    env = marta.envs.make("matrix-climbing")
    out = marta.envs.rollout(env, marta.envs.random_policy, jax.random.key(1), 3, 25)
    assert out.obs.shape == (25, 3, env.num_agents, env.obs_dim)
    assert out.actions.shape == (25, 3, env.num_agents)
    assert out.reward.shape == out.done.shape == (25, 3)
    # the climbing game lasts exactly max_steps = 10 rounds
    assert np.asarray(out.done)[[9, 19]].all() and np.asarray(out.done).sum() == 6
    stats = marta.envs.episode_stats(out)
    assert stats["episodes"] == 6 and stats["length_mean"] == 10.0
