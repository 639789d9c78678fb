"""Parity of marta's Traffic Junction with ma-gym 0.0.14 (marta/envs/ma_gym_reference.py loads it).

(a) step level: ma-gym's Python `random` is replaced by `ScriptedRandom`, fed with the exact
    draws our environment made from its JAX key; for whole episodes, the same actions must give
    the same observations, per-car rewards, per-car dones, collisions and internal state.
(b) distribution level: under a uniform random GAS/BRAKE policy, the mean team return and
    episode length of ours (JAX PRNG) and of ma-gym (its own Python `random`) agree.
"""

from __future__ import annotations

import functools
import random

import jax
import numpy as np
import pytest

import marta.envs
from marta.envs import ma_gym_reference as tj_reference
from marta.envs.traffic_junction import DIRECTIONS


@functools.partial(jax.jit, static_argnames="env")
def our_episodes(env, keys, actions):
    """Ours, for E episodes without auto-reset: one vmap over episodes of a scan over steps.

    Args:
        keys: key[E] one reset key per episode (step keys are split from it).
        actions: i32[E, T, N] actions of every step.

    Returns:
        (reset draws, state and obs after reset, and per step [E, T, ...]: arrival draws,
        state, obs, team reward, terminated, info), all as numpy arrays.
    """

    def episode(key, actions):
        key_reset, key_steps = jax.random.split(key)
        state = env.reset_env(key_reset)

        def one_step(state, inputs):
            key, action = inputs
            state, reward, terminated, info = env.step_env(key, state, action)
            return state, (
                env.arrival_draws(key),
                state,
                env.observe(state),
                reward,
                terminated,
                info,
            )

        keys = jax.random.split(key_steps, actions.shape[0])
        _, steps = jax.lax.scan(one_step, state, (keys, actions))
        return env.reset_draws(key_reset), state, env.observe(state), steps

    return jax.vmap(episode)(keys, actions)


def check_state(env, ref, state) -> None:
    """Our state arrays (numpy, one episode and step) equal ma-gym's per-car lists."""
    n = env.num_agents
    np.testing.assert_array_equal(state.pos, [ref.agent_pos[i] for i in range(n)])
    np.testing.assert_array_equal(state.on_road, ref._on_the_road)
    np.testing.assert_array_equal(state.tau, ref._agent_step_count)
    np.testing.assert_array_equal(state.route, ref._agents_routes)
    np.testing.assert_array_equal(state.turned, ref._agent_turned)
    for i in np.flatnonzero(state.on_road):
        assert tuple(DIRECTIONS[state.direction[i]]) == tuple(ref._agents_direction[i]), i


def at(tree, *index):
    return jax.tree.map(lambda x: x[index], tree)


CASES = [
    # (env id, overrides, episodes): the registered ids, then other sizes/probabilities
    ("tj-4", {}, 60),
    ("tj-10", {}, 24),
    ("tj-6", {"grid_shape": (9, 9), "arrive_prob": 0.3, "full_observable": True}, 12),
    ("tj-4", {"num_agents": 3, "grid_shape": (18, 18), "arrive_prob": 0.05, "max_steps": 40}, 9),
]


@pytest.mark.parametrize(("env_id", "overrides", "episodes"), CASES)
def test_step_parity_whole_episodes(monkeypatch, env_id, overrides, episodes):
    """Same draws + same actions -> same obs, rewards, dones, collisions and state, every step.

    ma-gym's `random` is scripted with the draws our environment made from its JAX keys;
    episodes cycle through GAS probabilities 0.5, 0.8, 1.0 (jams, and free-flowing traffic).
    """
    env = marta.envs.make(env_id, **overrides)
    cfg, n, horizon = env.config, env.num_agents, env.max_steps
    ref = tj_reference.make_reference(
        "TrafficJunction4-v0",
        n_max=n,
        grid_shape=cfg.grid_shape,
        arrive_prob=cfg.arrive_prob,
        max_steps=cfg.max_steps,
        full_observable=cfg.full_observable,
    )
    rng = tj_reference.ScriptedRandom()
    monkeypatch.setattr(tj_reference.load_module(), "random", rng)

    p_gas = np.array([0.5, 0.8, 1.0])[np.arange(episodes) % 3]
    uniform = np.random.default_rng(0).random((episodes, horizon, n))
    actions = (uniform >= p_gas[:, None, None]).astype(np.int32)  # GAS = 0, BRAKE = 1
    keys = jax.random.split(jax.random.key(len(CASES) * n + horizon), episodes)
    reset_draws, reset_state, reset_obs, steps = jax.device_get(our_episodes(env, keys, actions))

    seen = {"collisions": 0, "terminated": 0, "truncated": 0, "arrivals": 0, "turns": 0}
    for e in range(episodes):
        rng.clear()
        rng.script("shuffle", reset_draws.perm[e])
        for route in reset_draws.route[e, : min(n, 4)]:
            rng.script("randint", route)
        # a fresh ma-gym env has route -1 for waiting cars, but ma-gym keeps the previous
        # episode's (see marta.envs.traffic_junction's docstring); reset it like ours does
        ref._agents_routes = [-1] * n
        ref_obs = ref.reset()
        assert not list(rng.pending()), "ma-gym made fewer reset draws than ours"
        check_state(env, ref, at(reset_state, e))
        np.testing.assert_array_equal(reset_obs[e], np.asarray(ref_obs, np.float32))
        for t in range(horizon):
            draws, state, obs, reward, terminated, info = at(steps, e, t)
            rng.clear()
            rng.script("uniform", draws.u)
            rng.script("choice", draws.gate)
            rng.script("randint", draws.route)
            on_road_before = ref._on_the_road.copy()
            ref_obs, ref_rewards, ref_dones, ref_info = ref.step(list(actions[e, t]))
            check_state(env, ref, state)
            np.testing.assert_array_equal(obs, np.asarray(ref_obs, np.float32))
            np.testing.assert_allclose(info["agent_rewards"], ref_rewards, rtol=1e-6, atol=1e-5)
            np.testing.assert_allclose(reward, sum(ref_rewards), rtol=1e-5, atol=1e-4)
            assert info["step_collisions"] == ref_info["step_collisions"]
            time_limit = t + 1 >= horizon  # ma-gym marks every car done; ours truncates
            assert (bool(terminated) or time_limit) == all(ref_dones)
            if not time_limit:
                np.testing.assert_array_equal(state.done, ref_dones)
            seen["collisions"] += ref_info["step_collisions"]
            seen["arrivals"] += sum(ref._on_the_road) - sum(on_road_before)
            seen["turns"] += int(state.turned.sum())
            if all(ref_dones):
                seen["terminated" if terminated else "truncated"] += 1
                break
    assert seen["terminated"] + seen["truncated"] == episodes
    assert seen["collisions"] > 0 and seen["turns"] > 0, seen  # collision/turn rules exercised
    if n > 4:
        assert seen["arrivals"] > 0, seen


def _reference_random_returns(env_id: str, episodes: int, seed: int):
    ref = tj_reference.make_reference(env_id)
    rng = random.Random(seed)
    module = tj_reference.load_module()
    module.random.seed(seed)
    returns, lengths = [], []
    for _ in range(episodes):
        ref._agents_routes = [-1] * ref.n_agents  # as a fresh env (no effect on returns)
        ref.reset()
        dones, ret, length = [False], 0.0, 0
        while not all(dones):
            _, rewards, dones, _ = ref.step([rng.randint(0, 1) for _ in range(ref.n_agents)])
            ret += sum(rewards)
            length += 1
        returns.append(ret)
        lengths.append(length)
    return np.asarray(returns), np.asarray(lengths)


@pytest.mark.parametrize(
    ("env_id", "ref_id", "ref_episodes", "num_envs", "num_steps"),
    [
        ("tj-4", "TrafficJunction4-v0", 1000, 256, 250),
        ("tj-10", "TrafficJunction10-v0", 200, 128, 350),
    ],
)
def test_random_policy_returns_match_reference(env_id, ref_id, ref_episodes, num_envs, num_steps):
    """Uniform random GAS/BRAKE: mean team return and length agree within 4.5 standard errors.

    Returns are heavy-tailed (a jammed car collides every step), so both sides use hundreds of
    episodes; the bound is on the difference of means with both standard errors.
    """
    ref_ret, ref_len = _reference_random_returns(ref_id, ref_episodes, seed=0)
    env = marta.envs.make(env_id)
    out = marta.envs.rollout(env, marta.envs.random_policy, jax.random.key(0), num_envs, num_steps)
    # keep the episodes that started early enough to end inside the rollout whatever their
    # length: counting every finished episode would under-sample long ones (length bias)
    start = np.arange(num_steps)[:, None] - np.asarray(out.episode_length) + 1
    done = np.asarray(out.done) & (start <= num_steps - env.max_steps)
    ours_ret = np.asarray(out.episode_return)[done]
    ours_len = np.asarray(out.episode_length)[done]
    assert len(ours_ret) >= ref_episodes
    for name, ours, ref in (("return", ours_ret, ref_ret), ("length", ours_len, ref_len)):
        se = np.sqrt(ours.var() / len(ours) + ref.var() / len(ref))
        assert abs(ours.mean() - ref.mean()) < 4.5 * se, (name, ours.mean(), ref.mean(), se)
