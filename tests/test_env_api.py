"""Every registered environment honours the contract in docs/architecture.md (STYLE X4)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import marta.envs
from marta.envs.base import MultiAgentEnv

ENV_IDS = sorted(marta.envs.ENVS)


@pytest.fixture(scope="module", params=ENV_IDS)
def env(request) -> MultiAgentEnv:
    return marta.envs.make(request.param)


def test_static_sizes_are_positive_ints(env):
    spec = env.spec
    assert 0 < spec.pop("state_scale") <= 1
    assert 0 < spec.pop("obs_scale") <= 1
    for name, value in spec.items():
        assert isinstance(value, int) and value > 0, name
    assert env.name in marta.envs.ENVS


def test_state_scale_makes_the_global_state_order_one(env):
    """QMIX's hypernetworks need O(1) state inputs (docs/learners.md); bounded states are
    scaled into [-1, 1], MPE positions are unbounded but O(1) already."""

    def step(carry, key):
        state = carry
        avail = env.avail_actions(state)
        actions = marta.envs.random_policy(key, None, avail)
        _, state, _, _, _ = env.step(key, state, actions)
        return state, jnp.abs(env.global_state(state)).max()

    def episode(key):
        _, state = env.reset(key)
        return jax.lax.scan(step, state, jax.random.split(key, env.max_steps))[1].max()

    biggest = jax.jit(jax.vmap(episode))(jax.random.split(jax.random.key(1), 16)).max()
    assert 0.25 <= float(biggest) * env.state_scale <= 2.0


def test_reset_and_step_shapes(env):
    obs, state = jax.jit(env.reset)(jax.random.key(0))
    assert obs.shape == (env.num_agents, env.obs_dim) and obs.dtype == jnp.float32
    assert env.global_state(state).shape == (env.state_dim,)
    avail = env.avail_actions(state)
    assert avail.shape == (env.num_agents, env.num_actions) and avail.dtype == jnp.bool_
    assert bool(avail.any(axis=-1).all()), "every agent needs at least one available action"
    actions = jnp.argmax(avail, axis=-1).astype(jnp.int32)
    obs2, state2, reward, done, info = jax.jit(env.step)(jax.random.key(1), state, actions)
    assert obs2.shape == obs.shape and obs2.dtype == jnp.float32
    assert reward.shape == () and reward.dtype == jnp.float32
    assert done.shape == () and done.dtype == jnp.bool_
    for k in ("terminated", "truncated", "returned_episode", "episode_return", "episode_length"):
        assert info[k].shape == (), k
    assert info["final_obs"].shape == obs.shape
    assert info["final_global_state"].shape == (env.state_dim,)
    assert info["final_avail_actions"].shape == avail.shape
    assert jax.tree.structure(state2) == jax.tree.structure(state)


def test_episode_ends_by_max_steps_and_auto_resets(env):
    """Scanning max_steps random steps ends at least one episode; lengths never exceed it."""
    run = jax.jit(lambda k: marta.envs.rollout(env, marta.envs.random_policy, k, 4, env.max_steps))
    out = run(jax.random.key(2))
    lengths = np.asarray(out.episode_length)
    done = np.asarray(out.done)
    assert done.any(axis=0).all(), "every env must finish an episode within max_steps"
    assert lengths.max() <= env.max_steps
    assert (lengths[done] >= 1).all()


def test_truncation_flag_at_time_limit(env):
    obs, state = env.reset(jax.random.key(3))
    step = jax.jit(env.step)
    key = jax.random.key(4)
    for t in range(env.max_steps):
        key, k_act, k_step = jax.random.split(key, 3)
        actions = marta.envs.random_policy(k_act, obs, env.avail_actions(state))
        obs, state, _, done, info = step(k_step, state, actions)
        if bool(done):
            assert bool(info["terminated"]) != bool(info["truncated"])
            assert bool(info["truncated"]) == (t + 1 == env.max_steps)
            assert int(state.time) == 0, "state must be reset after done"
            return
    pytest.fail("episode did not end at max_steps")


def test_vmap_and_determinism(env):
    keys = jax.random.split(jax.random.key(5), 3)
    run = jax.jit(lambda k: marta.envs.rollout(env, marta.envs.random_policy, k, 2, 20).reward)
    a = jax.vmap(run)(keys)
    b = jnp.stack([run(k) for k in keys])
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(np.asarray(run(keys[0])), np.asarray(run(keys[0])))


def test_step_does_not_recompile(env):
    step = jax.jit(env.step)
    obs, state = env.reset(jax.random.key(6))
    actions = jnp.zeros((env.num_agents,), jnp.int32)
    step(jax.random.key(7), state, actions)
    before = step._cache_size()
    step(jax.random.key(8), state, actions)
    assert step._cache_size() == before


def test_toy_games_out_of_range_actions():
    """Matrix games clip an out-of-range action to the nearest one; in the critical-state
    game any value but the good action is a miss."""
    climb = marta.envs.make("matrix-climbing")
    _, state = climb.reset(jax.random.key(0))
    step = lambda env, s, a: env.step(jax.random.key(1), s, jnp.array(a, jnp.int32))
    assert step(climb, state, [7, -3])[2] == step(climb, state, [2, 0])[2]
    game = marta.envs.make("critical-state")
    _, state = game.reset(jax.random.key(0))
    for _ in range(game.config.critical):  # walk to the critical position
        _, state, *_ = step(game, state, [0, 0])
    good = game.config.good_action
    missed = [step(game, state, [a, a])[2] for a in (1 - good, 9, -1)]
    assert all(r == game.config.penalty for r in missed)
    assert step(game, state, [good, good])[2] == game.config.reward
