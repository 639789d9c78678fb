"""Tests of the pure-JAX episode replay buffer."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from marta.learners.replay import (
    add_episodes,
    clear_finished,
    empty_episodes,
    init_buffer,
    sample,
    write_step,
)

SIZES = {"max_steps": 4, "num_agents": 2, "num_actions": 3, "obs_dim": 2, "state_dim": 1}


def _step_fields(t: int, num_envs: int, value_offset: float):
    """Step data whose values encode (env, time) so positions can be checked."""
    env = jnp.arange(num_envs, dtype=jnp.float32)
    tag = value_offset + 10.0 * env + t  # f32[E]
    obs = jnp.broadcast_to(tag[:, None, None], (num_envs, 2, 2))
    return {
        "obs": obs,
        "state": tag[:, None],
        "avail": jnp.ones((num_envs, 2, 3), bool),
        "actions": jnp.full((num_envs, 2), t % 3, jnp.int32),
        "reward": tag,
        "terminated": jnp.zeros((num_envs,), bool),
        "next_obs": obs + 0.5,
        "next_state": tag[:, None] + 0.5,
        "next_avail": jnp.ones((num_envs, 2, 3), bool).at[:, :, 0].set(False),
    }


def test_episodes_of_different_lengths_are_padded_and_masked():
    """Env 0 ends after 2 steps (terminal), env 1 after 4 (time limit)."""
    staging = empty_episodes(2, **SIZES)
    buffer = init_buffer(5, **SIZES)
    ends = {1: jnp.array([True, False]), 3: jnp.array([False, True])}
    for t in range(4):
        fields = _step_fields(t, 2, 0.0)
        if t == 1:
            fields["terminated"] = jnp.array([True, False])
        time = jnp.array([t if t < 2 else t - 2, t])  # env 0 restarts at t = 2
        staging = write_step(staging, time, **fields)
        done = ends.get(t, jnp.array([False, False]))
        buffer = add_episodes(buffer, staging, done)
        staging = clear_finished(staging, done)
    assert int(buffer.size) == 2 and int(buffer.insert_pos) == 2
    ep0, ep1 = jax.tree.map(lambda x: x[0], buffer.data), jax.tree.map(lambda x: x[1], buffer.data)
    np.testing.assert_array_equal(ep0.filled, [True, True, False, False])
    np.testing.assert_array_equal(ep0.terminated[:2], [False, True])
    np.testing.assert_allclose(ep0.reward[:2], [0.0, 1.0])
    # index t + 1 after the last step holds the pre-reset final observation/state/avail
    np.testing.assert_allclose(ep0.obs[2, 0], [1.5, 1.5])
    np.testing.assert_allclose(ep0.state[2], [1.5])
    assert not bool(ep0.avail[2, 0, 0])
    np.testing.assert_array_equal(ep1.filled, [True, True, True, True])
    np.testing.assert_array_equal(ep1.terminated, [False] * 4)  # time limit is not terminal
    np.testing.assert_allclose(ep1.reward, [10.0, 11.0, 12.0, 13.0])
    np.testing.assert_allclose(ep1.obs[:, 0, 0], [10.0, 11.0, 12.0, 13.0, 13.5])
    np.testing.assert_array_equal(ep1.actions[:, 0], [0, 1, 2, 0])
    # env 0's second episode (2 steps so far) is still in staging, not in the buffer
    np.testing.assert_array_equal(staging.filled[0], [True, True, False, False])
    assert not bool(staging.filled[1].any())


def test_ring_buffer_overwrites_oldest_and_caps_size():
    buffer = init_buffer(3, **SIZES)
    episodes = empty_episodes(2, **SIZES)
    for k in range(3):  # 6 episodes tagged by their reward[0], 2 at a time
        tagged = episodes.replace(
            reward=episodes.reward.at[:, 0].set(jnp.array([2 * k, 2 * k + 1]))
        )
        buffer = add_episodes(buffer, tagged, jnp.array([True, True]))
    assert int(buffer.size) == 3 and int(buffer.insert_pos) == 0
    np.testing.assert_allclose(sorted(np.asarray(buffer.data.reward[:, 0])), [3.0, 4.0, 5.0])
    # only committed episodes are written
    buffer = add_episodes(
        buffer, episodes.replace(reward=episodes.reward + 9), jnp.array([False, True])
    )
    assert int(buffer.insert_pos) == 1
    np.testing.assert_allclose(buffer.data.reward[:, 0], [9.0, 4.0, 5.0])


def test_sampling_is_uniform_over_stored_episodes_only():
    buffer = init_buffer(10, **SIZES)
    episodes = empty_episodes(4, **SIZES)
    tagged = episodes.replace(
        reward=episodes.reward.at[:, 0].set(jnp.arange(1.0, 5.0)),
        filled=jnp.ones_like(episodes.filled),
    )
    buffer = add_episodes(buffer, tagged, jnp.ones((4,), bool))
    batch = jax.jit(sample, static_argnums=2)(jax.random.key(0), buffer, 4000)
    tags = np.asarray(batch.reward[:, 0])
    assert set(np.unique(tags)) == {1.0, 2.0, 3.0, 4.0}  # never an empty slot
    np.testing.assert_allclose(
        np.bincount(tags.astype(int), minlength=5)[1:] / 4000, 0.25, atol=0.03
    )
    assert batch.obs.shape == (4000, 5, 2, 2)


def test_sampling_an_empty_buffer_gives_padding():
    batch = sample(jax.random.key(0), init_buffer(4, **SIZES), 3)
    assert not bool(batch.filled.any())


def test_buffer_works_inside_jit_and_scan():
    def body(carry, t):
        staging, buffer = carry
        fields = _step_fields(0, 2, 0.0)
        staging = write_step(staging, jnp.array([t % 4, t % 4]), **fields)
        done = jnp.full((2,), t % 4 == 3)
        return (clear_finished(staging, done), add_episodes(buffer, staging, done)), None

    init = (empty_episodes(2, **SIZES), init_buffer(5, **SIZES))
    (_, buffer), _ = jax.jit(lambda c: jax.lax.scan(body, c, jnp.arange(12)))(init)
    assert int(buffer.size) == 5 and int(buffer.insert_pos) == 1  # 6 episodes into 5 slots
    assert bool(buffer.data.filled.all())
