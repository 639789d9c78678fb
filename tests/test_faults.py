"""Unit tests of marta.faults: config validation, fault policies, the wrapper's step semantics.

Property tests (hypothesis, many seeds and configs) are in test_faults_properties.py.
"""

from __future__ import annotations

import dataclasses
from typing import get_args

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import marta.envs
from marta.faults import (
    FAULT_POLICIES,
    FaultConfig,
    FaultPolicyName,
    FaultWrapper,
    get_policy,
    stuck_actions,
    uniform_actions,
    worst_case_actions,
)


def climbing(max_steps: int = 10):
    return marta.envs.make("matrix-climbing", max_steps=max_steps)


def a(*xs) -> jax.Array:
    return jnp.asarray(xs, jnp.int32)


# ---------------------------------------------------------------------- config
BAD_CONFIGS = [
    ({"selection": "sometimes"}, "selection"),
    ({"duration": "forever"}, "duration"),
    ({"policy": "random"}, "policy"),
    ({"budget_scope": "season"}, "budget_scope"),
    ({"p": 1.5}, "p"),
    ({"p": -0.1}, "p"),
    ({"p": float("nan")}, "p"),
    ({"terminate_p": 2.0}, "terminate_p"),
    ({"temperature": 0.0}, "temperature"),
    ({"temperature": -1.0}, "temperature"),
    ({"temperature": float("inf")}, "temperature"),
    ({"budget": -1}, "budget"),
    ({"budget": 1.5}, "budget"),
    ({"agent": -1}, "agent"),
    ({"stuck_action": -2}, "stuck_action"),
    ({"weights": (1.0, -1.0)}, "weights"),
    ({"weights": (0.0, 0.0)}, "weights"),
    ({"weights": ()}, "weights"),
    ({"weights": "uniform"}, "weights"),
]


@pytest.mark.parametrize(("kwargs", "field"), BAD_CONFIGS)
def test_bad_config_rejected_naming_the_field(kwargs, field):
    with pytest.raises(ValueError, match=rf"^{field} must"):
        FaultConfig(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"agent": 2}, "agent"),
        ({"weights": (1.0,) * 3}, "weights"),
        ({"stuck_action": 3}, "stuck_action"),
    ],
)
def test_config_checked_against_the_env(kwargs, field):
    config = FaultConfig(**kwargs)  # valid on its own
    with pytest.raises(ValueError, match=rf"^{field} must"):
        FaultWrapper(climbing(), config)


def test_config_is_frozen_hashable_and_keyword_only():
    config = FaultConfig(p=0.3, weights=(1.0, 2.0))
    assert hash(config) == hash(FaultConfig(p=0.3, weights=(1.0, 2.0)))
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.p = 0.5  # type: ignore[misc]
    with pytest.raises(TypeError):
        FaultConfig("simple")  # type: ignore[misc]
    assert config.selection_weights(2) == pytest.approx((1 / 3, 2 / 3))
    assert FaultConfig(weights=[1.0, 2.0]) == FaultConfig(weights=(1.0, 2.0))  # from YAML
    assert FaultConfig(duration="persistent", terminate_p=0.25).mean_duration == 4.0
    assert FaultConfig(duration="step", terminate_p=0.25).mean_duration == 1.0


# ---------------------------------------------------------------------- policies
def test_policy_registry_matches_the_config_literal():
    assert set(FAULT_POLICIES) == set(get_args(FaultPolicyName))
    assert get_policy("worst_case").needs_fault_actions
    assert get_policy("learned").needs_fault_actions
    assert not get_policy("uniform").needs_fault_actions
    did_you_mean = r"'wrost_case' \(did you mean 'worst_case'\?\); "
    did_you_mean += "valid: learned, stuck, uniform, worst_case"
    with pytest.raises(ValueError, match=did_you_mean):
        get_policy("wrost_case")


def test_worst_case_follows_softmax_of_negative_q():
    q = jnp.asarray([[1.0, 0.0, 2.0, -1.0], [0.5, 0.5, 0.0, 3.0]])
    avail = jnp.asarray([[True, True, True, False], [True, True, True, True]])
    temperature = 0.7
    keys = jax.random.split(jax.random.key(0), 20_000)
    f = jax.vmap(lambda k: worst_case_actions(k, q, temperature, avail))(keys)
    assert f.shape == (20_000, 2) and f.dtype == jnp.int32
    logits = np.where(np.asarray(avail), -np.asarray(q) / temperature, -np.inf)
    expected = np.exp(logits - logits.max(-1, keepdims=True))
    expected /= expected.sum(-1, keepdims=True)
    for i in range(2):
        freq = np.bincount(np.asarray(f[:, i]), minlength=4) / len(keys)
        np.testing.assert_allclose(freq, expected[i], atol=0.015)
    assert not np.any(np.asarray(f[:, 0]) == 3)  # unavailable: never chosen


def test_worst_case_at_low_temperature_is_the_argmin_and_uniform_respects_avail():
    key = jax.random.key(1)
    q = jax.random.normal(key, (5, 6))
    avail = jax.random.bernoulli(jax.random.key(2), 0.5, (5, 6)).at[:, 0].set(True)
    greedy = worst_case_actions(key, q, 1e-4, avail)
    expected = np.argmin(np.where(np.asarray(avail), np.asarray(q), np.inf), axis=-1)
    np.testing.assert_array_equal(greedy, expected)
    u = jax.vmap(lambda k: uniform_actions(k, avail))(jax.random.split(key, 2000))
    assert np.all(np.take_along_axis(np.asarray(avail)[None], np.asarray(u)[..., None], -1))
    assert len(np.unique(np.asarray(u[:, 0]))) == int(avail[0].sum())


def test_stuck_action_falls_back_to_first_available():
    avail = jnp.asarray([[True, True, True], [False, True, True], [False, False, True]])
    np.testing.assert_array_equal(stuck_actions(avail, 0), [0, 1, 2])
    np.testing.assert_array_equal(stuck_actions(avail, 1), [1, 1, 2])


# ---------------------------------------------------------------------- wrapper
def test_wrapper_has_the_env_contract():
    inner = climbing()
    env = FaultWrapper(inner, FaultConfig())
    assert env.spec == inner.spec and env.name == "matrix-climbing"
    obs, state = env.reset(jax.random.key(0))
    inner_obs, inner_state = inner.reset(jax.random.key(0))
    assert obs.shape == inner_obs.shape
    np.testing.assert_array_equal(env.global_state(state), inner.global_state(state.env))
    np.testing.assert_array_equal(env.avail_actions(state), inner.avail_actions(state.env))
    np.testing.assert_array_equal(env.observations(state), obs)
    obs, state, reward, done, info = env.step(jax.random.key(1), state, a(0, 0))
    assert reward.shape == () and done.shape == () and obs.shape == inner_obs.shape
    for k in ("faulty_agent", "fault_mask", "activation", "executed_actions", "activations"):
        assert k in info
    assert {"budget_left", "switch", "fault_steps", "episode_return", "truncated"} <= set(info)


def test_policies_needing_fault_actions_fail_at_trace_time():
    for policy in ("worst_case", "learned"):
        env = FaultWrapper(climbing(), FaultConfig(policy=policy))
        _, state = env.reset(jax.random.key(0))
        with pytest.raises(ValueError, match=f"fault policy '{policy}' needs fault_actions"):
            jax.jit(env.step)(jax.random.key(1), state, a(0, 0))


def test_worst_case_fault_actions_are_executed_by_the_faulty_agent():
    env = FaultWrapper(
        climbing(), FaultConfig(selection="simple", agent=1, p=1.0, policy="worst_case")
    )
    _, state = env.reset(jax.random.key(0))
    q = jnp.asarray([[0.0, 0.0, 0.0], [5.0, 4.0, -3.0]])  # agent 1's worst action: 2
    f = worst_case_actions(jax.random.key(3), q, 1e-3, env.avail_actions(state))
    _, _, reward, _, info = env.step(jax.random.key(1), state, a(0, 0), fault_actions=f)
    np.testing.assert_array_equal(info["executed_actions"], [0, 2])
    assert float(reward) == 0.0  # climbing payoff[0, 2]
    assert int(info["faulty_agent"]) == 1 and bool(info["activation"])


def test_switch_replaces_the_random_onset():
    env = FaultWrapper(climbing(), FaultConfig(p=1.0, policy="stuck", stuck_action=2))
    _, state = env.reset(jax.random.key(0))
    step = jax.jit(env.step)
    _, _, reward, _, info = step(jax.random.key(1), state, a(0, 0), switch=jnp.int32(0))
    assert int(info["faulty_agent"]) == -1 and float(reward) == 11.0
    env0 = FaultWrapper(climbing(), FaultConfig(p=0.0, policy="stuck", stuck_action=2))
    _, _, reward, _, info = jax.jit(env0.step)(
        jax.random.key(1), state, a(0, 0), switch=jnp.int32(2)
    )
    assert int(info["faulty_agent"]) == 1 and int(info["switch"]) == 2
    np.testing.assert_array_equal(info["fault_mask"], [False, True])
    assert float(reward) == 0.0  # payoff[0, 2]


def test_running_fault_overrides_the_switch_until_it_terminates():
    config = FaultConfig(p=0.0, duration="persistent", terminate_p=0.0, policy="stuck")
    env = FaultWrapper(climbing(max_steps=6), config)
    _, state = env.reset(jax.random.key(0))
    step = jax.jit(env.step)
    faulty, activation, steps = [], [], []
    for t, g in enumerate([1, 2, 0, 2, 1, 2, 2]):
        assert env.switch_mask(state).tolist() == (
            [True, True, True] if t in (0, 6) else [False, True, False]
        )
        _, state, _, done, info = step(jax.random.key(t), state, a(1, 1), switch=jnp.int32(g))
        faulty.append(int(info["faulty_agent"]))
        activation.append(bool(info["activation"]))
        steps.append(int(info["fault_steps"]))
    # terminate_p = 0: the fault started at t=0 runs until the episode ends (t=5)
    assert faulty == [0, 0, 0, 0, 0, 0, 1]
    assert activation == [True, False, False, False, False, False, True]
    assert steps == [1, 2, 3, 4, 5, 6, 1]


def test_budget_masks_the_switcher_and_blocks_activations():
    config = FaultConfig(p=0.0, budget=2, policy="stuck")
    env = FaultWrapper(climbing(max_steps=5), config)
    _, state = env.reset(jax.random.key(0))
    step = jax.jit(env.step)
    masks, fractions, faulty = [], [], []
    for t in range(6):
        masks.append(env.switch_mask(state).tolist())
        fractions.append(float(env.budget_fraction(state)))
        _, state, _, _, info = step(jax.random.key(t), state, a(0, 0), switch=jnp.int32(1))
        faulty.append(int(info["faulty_agent"]))
    assert faulty == [0, 0, -1, -1, -1, 0]  # budget spent after two; refilled at episode 2
    assert masks[:4] == [[True, True, True]] * 2 + [[True, False, False]] * 2
    assert masks[5] == [True, True, True]
    assert fractions == [1.0, 0.5, 0.0, 0.0, 0.0, 1.0]
    unlimited = FaultWrapper(climbing(), FaultConfig())
    assert float(unlimited.budget_fraction(unlimited.reset(jax.random.key(0))[1])) == 1.0
    zero = FaultWrapper(climbing(), FaultConfig(budget=0))
    _, zstate = zero.reset(jax.random.key(0))
    assert float(zero.budget_fraction(zstate)) == 0.0
    assert zero.switch_mask(zstate).tolist() == [True, False, False]


def test_switch_mask_follows_the_selection_support():
    env = FaultWrapper(climbing(), FaultConfig(selection="simple", agent=1))
    assert env.switch_mask(env.reset(jax.random.key(0))[1]).tolist() == [True, False, True]
    three = marta.envs.make("matrix-climbing", payoff=np.zeros((2, 2, 2)).tolist())
    env = FaultWrapper(three, FaultConfig(weights=(1.0, 0.0, 2.0)))
    assert env.switch_mask(env.reset(jax.random.key(0))[1]).tolist() == [True, True, False, True]


def test_budget_scope_run_is_not_refilled_by_the_auto_reset():
    config = FaultConfig(p=1.0, budget=3, budget_scope="run")
    env = FaultWrapper(climbing(max_steps=2), config)
    _, state = env.reset(jax.random.key(0))
    step = jax.jit(env.step)
    activations = []
    for t in range(8):
        _, state, _, _, info = step(jax.random.key(t), state, a(0, 0))
        activations.append(bool(info["activation"]))
    assert activations == [True] * 3 + [False] * 5
    assert int(state.fault.total_activations) == 3 and int(state.fault.budget_left) == 0


def test_fault_state_resets_with_the_episode_and_total_is_kept():
    config = FaultConfig(p=1.0, duration="persistent", terminate_p=0.0, budget=5)
    env = FaultWrapper(climbing(max_steps=3), config)
    _, state = env.reset(jax.random.key(0))
    step = jax.jit(env.step)
    for t in range(3):
        _, state, _, done, info = step(jax.random.key(t), state, a(0, 0))
    assert bool(done) and int(info["activations"]) == 1 and int(info["budget_left"]) == 4
    fault = state.fault
    assert int(fault.faulty_agent) == -1 and int(fault.steps_active) == 0
    assert int(fault.activations) == 0 and int(fault.budget_left) == 5
    assert int(fault.total_activations) == 1


def test_simple_selection_with_agent_none_draws_one_agent_per_episode():
    three = marta.envs.make("matrix-climbing", payoff=np.zeros((3, 3, 3)).tolist(), max_steps=4)
    env = FaultWrapper(three, FaultConfig(selection="simple", agent=None, p=1.0))
    _, state = env.reset(jax.random.key(0))
    step = jax.jit(env.step)
    per_episode: dict[int, set[int]] = {}
    for t in range(4 * 30):
        _, state, _, _, info = step(jax.random.key(t), state, a(0, 0, 0))
        per_episode.setdefault(t // 4, set()).add(int(info["faulty_agent"]))
    assert all(len(agents) == 1 for agents in per_episode.values())
    assert set().union(*per_episode.values()) == {0, 1, 2}  # all drawn over 30 episodes


def test_step_compiles_once():
    env = FaultWrapper(climbing(), FaultConfig(p=0.5, duration="persistent", budget=3))
    _, state = env.reset(jax.random.key(0))
    step = jax.jit(env.step)
    for t in range(4):
        _, state, *_ = step(jax.random.key(t), state, a(t % 3, 1))
    assert step._cache_size() == 1


def test_works_in_the_batched_rollout():
    env = FaultWrapper(
        climbing(), FaultConfig(selection="simple", agent=0, p=1.0, policy="stuck", stuck_action=1)
    )
    out = marta.envs.rollout(env, marta.envs.random_policy, jax.random.key(0), 4, 20)
    # agent 0 always plays 1: climbing payoffs of row 1 are -30, 7, 6
    assert set(np.unique(np.asarray(out.reward)).tolist()) <= {-30.0, 7.0, 6.0}
    assert out.reward.shape == (20, 4)
