"""Parity of marta's JAX Level-Based Foraging with the reference ``lbforaging==2.0.0``.

(a) Step level: the reference env is reset (numpy RNG), its state is copied into ours, then both
    get the same random joint actions (unavailable and out-of-range ones included) for whole
    episodes; observations, per-agent rewards, dones and available actions must agree at every
    step. On done both are re-synchronised by copying the reference's next reset.
(b) Distribution level: random-policy mean episode return and length agree within 4 standard
    errors.
"""

from __future__ import annotations

import gymnasium
import jax
import jax.numpy as jnp
import lbforaging  # noqa: F401  (registers the Foraging-* ids)
import numpy as np
import pytest
from lbforaging.foraging.environment import Action

import marta.envs
from marta.envs.base import EnvState
from marta.envs.lbf import LBFState

PAIRS = [
    ("lbf-5x5-4p-1f", "Foraging-5x5-4p-1f-v3"),
    ("lbf-5x5-4p-1f-2s", "Foraging-2s-5x5-4p-1f-v3"),
    ("lbf-5x5-2p-1f", "Foraging-5x5-2p-1f-v3"),
    ("lbf-5x5-2p-1f-2s", "Foraging-2s-5x5-2p-1f-v3"),
    ("lbf-5x5-3p-1f", "Foraging-5x5-3p-1f-v3"),
    ("lbf-5x5-3p-1f-2s", "Foraging-2s-5x5-3p-1f-v3"),
    ("lbf-8x8-2p-2f-coop", "Foraging-8x8-2p-2f-coop-v3"),
    ("lbf-8x8-2p-2f-coop-2s", "Foraging-2s-8x8-2p-2f-coop-v3"),
]


def reference(ref_id: str):
    """The reference env without gymnasium's checker wrappers."""
    return gymnasium.make(ref_id).unwrapped


def copy_state(ref, num_food: int, time: int) -> EnvState:
    """Our state holding the reference's players, foods (row-major) and step count."""
    rows, cols = np.nonzero(ref.field)
    food_pos = np.zeros((num_food, 2), np.int32)
    food_level = np.zeros((num_food,), np.int32)
    food_pos[: len(rows)] = np.stack([rows, cols], -1)
    food_level[: len(rows)] = ref.field[rows, cols]
    env = LBFState(
        player_pos=jnp.asarray([p.position for p in ref.players], jnp.int32),
        player_level=jnp.asarray([p.level for p in ref.players], jnp.int32),
        food_pos=jnp.asarray(food_pos),
        food_level=jnp.asarray(food_level),
        food_spawned=jnp.asarray(ref._food_spawned, jnp.float32),
        step=jnp.asarray(time, jnp.int32),
    )
    return EnvState(
        env=env, time=jnp.asarray(time, jnp.int32), episode_return=jnp.zeros((), jnp.float32)
    )


def ref_avail(ref) -> np.ndarray:
    return np.array([[Action(a) in ref._valid_actions[p] for a in range(6)] for p in ref.players])


def foraging_actions(ref, avail: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random joint action that often loads and walks to food (so loading is exercised);
    one in ten actions is uniform over all six, unavailable ones included."""
    foods = np.stack(np.nonzero(ref.field), -1)
    actions = []
    for player, ok in zip(ref.players, avail, strict=True):
        u = rng.random()
        if u < 0.1:
            actions.append(int(rng.integers(0, 6)))
        elif ok[5] and u < 0.8:
            actions.append(5)
        elif u < 0.6 and len(foods):
            pos = np.array(player.position)
            target = foods[np.abs(foods - pos).sum(-1).argmin()]
            dist = [np.abs(target - pos - d).sum() for d in ((-1, 0), (1, 0), (0, -1), (0, 1))]
            best = [a for a in range(1, 5) if ok[a] and dist[a - 1] == min(dist)]
            actions.append(int(rng.choice(best)) if best else 0)
        else:
            actions.append(int(rng.choice(np.flatnonzero(ok))))
    return np.array(actions)


@pytest.mark.parametrize(("env_id", "ref_id"), PAIRS)
def test_step_parity(env_id, ref_id):
    env = marta.envs.make(env_id)
    ref = reference(ref_id)
    step, avail_of = jax.jit(env.step), jax.jit(env.avail_actions)
    rng = np.random.default_rng([ord(c) for c in env_id])
    ref_obs, _ = ref.reset(seed=int(rng.integers(2**31)))
    state = copy_state(ref, env.num_food, 0)
    np.testing.assert_array_equal(np.asarray(env.observations(state)), np.stack(ref_obs))
    key = jax.random.key(0)
    steps, episodes, loads = 0, 0, 0
    while steps < 500:
        avail = ref_avail(ref)
        np.testing.assert_array_equal(np.asarray(avail_of(state)), avail)
        actions = foraging_actions(ref, avail, rng)
        ref_obs, ref_rew, ref_done, _, _ = ref.step(actions.tolist())
        key, sub = jax.random.split(key)
        obs, state, reward, done, info = step(sub, state, jnp.asarray(actions, jnp.int32))
        steps += 1
        loads += int(np.any(np.asarray(ref_rew) != 0))
        np.testing.assert_array_equal(np.asarray(info["final_obs"]), np.stack(ref_obs))
        np.testing.assert_allclose(np.asarray(info["agent_rewards"]), ref_rew, rtol=1e-6)
        np.testing.assert_allclose(float(reward), sum(ref_rew), rtol=1e-6, atol=1e-7)
        assert bool(done) == ref_done
        if ref_done:
            assert bool(info["truncated"]) == (ref.field.sum() > 0)
            episodes += 1
            ref.reset()
            state = copy_state(ref, env.num_food, 0)
        else:
            np.testing.assert_array_equal(np.asarray(obs), np.stack(ref_obs))
    assert episodes >= 10 and loads >= 5, (episodes, loads)


def test_distribution_parity_random_policy():
    """Mean return/length of the uniform-over-available-actions policy, ours vs reference."""
    ref = reference("Foraging-5x5-4p-1f-v3")
    rng = np.random.default_rng(0)
    ref.reset(seed=0)
    returns, lengths = [], []
    for _ in range(1000):
        ref.reset()
        ret, length, done = 0.0, 0, False
        while not done:
            valid = [ref._valid_actions[p] for p in ref.players]
            acts = [v[int(u * len(v))].value for v, u in zip(valid, rng.random(4), strict=True)]
            _, rew, done, _, _ = ref.step(acts)
            ret, length = ret + sum(rew), length + 1
        returns.append(ret)
        lengths.append(length)

    env = marta.envs.make("lbf-5x5-4p-1f")
    out = marta.envs.rollout(env, marta.envs.random_policy, jax.random.key(1), 2000, env.max_steps)
    # the first episode of each env ends within max_steps: an unbiased sample of episodes
    first = np.asarray(out.done & (jnp.cumsum(out.done, axis=0) == 1))
    ours_ret = np.asarray(out.episode_return)[first]
    ours_len = np.asarray(out.episode_length)[first]
    assert len(ours_ret) == 2000
    for ours, theirs in ((ours_ret, np.array(returns)), (ours_len, np.array(lengths))):
        se = np.sqrt(ours.var() / len(ours) + theirs.var() / len(theirs))
        assert abs(ours.mean() - theirs.mean()) < 4 * se, (ours.mean(), theirs.mean(), se)
