"""Hypothesis property tests of the FaultWrapper over many seeds and configurations.

Each property runs a batch of wrapped environments with `jax.vmap` inside a `jax.lax.scan`,
compiled once per (config, environment) and cached, so hypothesis varies the seeds (and
picks configs from small fixed sets) without recompiling for every example. Examples are
derandomised so the suite is deterministic.
"""

from __future__ import annotations

import functools
import math
import operator
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import marta.envs
from marta.faults import FaultConfig, FaultState, FaultWrapper, uniform_actions

SETTINGS = settings(max_examples=6, deadline=None, derandomize=True, database=None)
SEEDS = st.integers(0, 2**31 - 1)

#: three-agent, three-action common-payoff game with a distinct reward per joint action
PAYOFF3 = np.arange(27, dtype=np.float32).reshape(3, 3, 3).tolist()
ENVS = {
    "three": lambda max_steps: marta.envs.make(
        "matrix-climbing", payoff=PAYOFF3, max_steps=max_steps
    ),
}
if "lbf-5x5-4p-1f" in marta.envs.ENVS:
    ENVS["lbf"] = lambda max_steps: marta.envs.make("lbf-5x5-4p-1f", max_steps=max_steps)


class Trace(NamedTuple):
    """Per-step record of a batched run, leading axes [time, env]."""

    actions: jax.Array  # i32[T, B, N] team proposals
    fault_actions: jax.Array  # i32[T, B, N] external fault proposals (zeros if none given)
    switch: jax.Array  # i32[T, B] switcher choice (-1 if none given)
    switch_mask: jax.Array  # bool[T, B, N + 1] of the state before the step
    before: FaultState  # fault state before the step
    after: FaultState  # fault state after the step
    reward: jax.Array
    done: jax.Array
    info: dict


@functools.cache
def runner(
    config: FaultConfig,
    env_name: str = "three",
    *,
    max_steps: int = 10,
    num_envs: int = 16,
    num_steps: int = 60,
    with_switch: bool = False,
    with_fault_actions: bool = False,
):
    """Returns (wrapper, jitted run(key) -> Trace) for one configuration (cached)."""
    env = FaultWrapper(ENVS[env_name](max_steps), config)
    n = env.num_agents

    def one_step(state, key):
        k_act, k_fault, k_switch, k_env = jax.random.split(key, 4)
        avail = jax.vmap(env.avail_actions)(state)
        actions = uniform_actions(k_act, avail)
        fault_actions = uniform_actions(k_fault, avail) if with_fault_actions else None
        switch = jax.random.randint(k_switch, (num_envs,), 0, n + 1) if with_switch else None
        mask = jax.vmap(env.switch_mask)(state)
        step = lambda k, s, a, f, g: env.step(k, s, a, fault_actions=f, switch=g)
        _, next_state, reward, done, info = jax.vmap(step)(
            jax.random.split(k_env, num_envs), state, actions, fault_actions, switch
        )
        info = {k: v for k, v in info.items() if not k.startswith("final_")}
        trace = Trace(
            actions=actions,
            fault_actions=jnp.zeros_like(actions) if fault_actions is None else fault_actions,
            switch=jnp.full((num_envs,), -1) if switch is None else switch,
            switch_mask=mask,
            before=state.fault,
            after=next_state.fault,
            reward=reward,
            done=done,
            info=info,
        )
        return next_state, trace

    @jax.jit
    def run(key):
        k_reset, k_run = jax.random.split(key)
        _, state = jax.vmap(env.reset)(jax.random.split(k_reset, num_envs))
        _, trace = jax.lax.scan(one_step, state, jax.random.split(k_run, num_steps))
        return trace

    return env, lambda key: jax.tree.map(np.asarray, run(key))


def episode_ids(done: np.ndarray) -> np.ndarray:
    """Episode index of every step, [T, B] (episodes end where `done`)."""
    return np.cumsum(done, axis=0) - done


# ---------------------------------------------------------------------- budget
#: (config, with_switch) pairs; each pair is one compiled program
BUDGET_CASES = [
    (FaultConfig(p=0.7, budget=1), False),
    (FaultConfig(p=1.0, budget=3, duration="persistent", terminate_p=0.5), True),
    (FaultConfig(selection="simple", agent=2, p=0.9, budget=0), True),
]


@SETTINGS
@given(seed=SEEDS, case=st.sampled_from(BUDGET_CASES))
def test_activations_never_exceed_the_budget(seed, case):
    config, with_switch = case
    _, run = runner(config, with_switch=with_switch)
    tr = run(jax.random.key(seed))
    activation = tr.info["activation"]
    ids = episode_ids(tr.done)
    for b in range(activation.shape[1]):
        per_episode = np.bincount(ids[:, b], weights=activation[:, b])
        assert per_episode.max() <= config.budget
    # bookkeeping: activations so far + budget left = budget, within every episode
    np.testing.assert_array_equal(tr.info["activations"] + tr.info["budget_left"], config.budget)
    assert tr.info["budget_left"].min() >= 0
    # once the budget is spent, the switcher is offered no new fault (a running one may go on)
    spent = (tr.before.budget_left == 0) & (tr.before.faulty_agent == -1)
    assert not np.any(tr.switch_mask[..., 1:][spent])
    if config.budget > 0:
        assert activation.sum() > 0  # the budget is actually used, not just never reached


@SETTINGS
@given(seed=SEEDS)
def test_run_scope_budget_holds_across_episodes(seed):
    config = FaultConfig(p=0.5, budget=4, budget_scope="run")
    _, run = runner(config, max_steps=5)
    tr = run(jax.random.key(seed))
    assert np.all(tr.info["activation"].sum(axis=0) <= 4)
    np.testing.assert_array_equal(tr.after.total_activations[-1], tr.info["activation"].sum(0))


# ---------------------------------------------------------------------- onset
@SETTINGS
@given(seed=SEEDS, env_name=st.sampled_from(sorted(ENVS)))
def test_no_fault_ever_when_p_is_zero_and_no_switch(seed, env_name):
    _, run = runner(FaultConfig(p=0.0, duration="persistent", terminate_p=0.1), env_name)
    tr = run(jax.random.key(seed))
    assert np.all(tr.info["faulty_agent"] == -1)
    assert not np.any(tr.info["fault_mask"]) and not np.any(tr.info["activation"])
    np.testing.assert_array_equal(tr.info["executed_actions"], tr.actions)
    assert np.all(tr.after.total_activations == 0)


@SETTINGS
@given(seed=SEEDS, case=st.sampled_from([(0, True), (2, False)]))
def test_simple_selection_only_faults_the_configured_agent(seed, case):
    agent, with_switch = case
    config = FaultConfig(selection="simple", agent=agent, p=0.5)
    _, run = runner(config, with_switch=with_switch)
    tr = run(jax.random.key(seed))
    faulty = tr.info["faulty_agent"]
    assert set(np.unique(faulty).tolist()) == {-1, agent}  # both happen over 960 steps


@settings(max_examples=4, deadline=None, derandomize=True, database=None)
@given(seed=SEEDS, weights=st.sampled_from([(0.6, 0.3, 0.1), (1.0, 0.0, 3.0)]))
def test_complex_selection_frequencies_follow_the_weights(seed, weights):
    config = FaultConfig(selection="complex", weights=weights, p=1.0)
    _, run = runner(config, num_envs=32, num_steps=200)
    faulty = run(jax.random.key(seed)).info["faulty_agent"].ravel()
    assert np.all(faulty >= 0)  # p = 1, one-step faults: a new activation at every step
    freq = np.bincount(faulty, minlength=3) / faulty.size
    w = np.asarray(weights) / sum(weights)
    tolerance = 5 * np.sqrt(w * (1 - w) / faulty.size)  # 5 standard errors
    assert np.all(np.abs(freq - w) <= tolerance), (freq, w)


# ---------------------------------------------------------------------- duration
@settings(max_examples=4, deadline=None, derandomize=True, database=None)
@given(seed=SEEDS, terminate_p=st.sampled_from([0.2, 0.5]))
def test_mean_fault_duration_is_one_over_terminate_p(seed, terminate_p):
    config = FaultConfig(p=0.3, duration="persistent", terminate_p=terminate_p)
    _, run = runner(config, max_steps=1000, num_envs=32, num_steps=300)
    tr = run(jax.random.key(seed))
    ended = (tr.info["faulty_agent"] >= 0) & (tr.after.faulty_agent == -1) & ~tr.done
    durations = tr.info["fault_steps"][ended]
    q = terminate_p
    sd = math.sqrt(1 - q) / q  # Geometric(q) on {1, 2, ...}: mean 1/q, var (1-q)/q^2
    assert durations.size > 300
    assert abs(durations.mean() - 1 / q) <= 5 * sd / math.sqrt(durations.size) + 1e-9
    assert durations.min() == 1
    # a running fault is the same agent at every step of its duration
    running = tr.before.faulty_agent >= 0
    np.testing.assert_array_equal(tr.info["faulty_agent"][running], tr.before.faulty_agent[running])
    assert not np.any(tr.info["activation"][running])


@SETTINGS
@given(seed=SEEDS)
def test_step_duration_lasts_exactly_one_step(seed):
    _, run = runner(FaultConfig(p=0.6, duration="step"), with_switch=True)
    tr = run(jax.random.key(seed))
    assert np.all(tr.after.faulty_agent == -1) and np.all(tr.info["fault_steps"] <= 1)
    np.testing.assert_array_equal(tr.info["activation"], tr.info["faulty_agent"] >= 0)


# ---------------------------------------------------------------------- actions
@SETTINGS
@given(
    seed=SEEDS,
    config=st.sampled_from(
        [
            FaultConfig(p=0.5, policy="learned"),
            FaultConfig(p=0.5, policy="learned", duration="persistent", budget=2),
        ]
    ),
)
def test_executed_actions_are_the_fault_action_for_the_faulty_agent_only(seed, config):
    _, run = runner(config, with_switch=True, with_fault_actions=True)
    tr = run(jax.random.key(seed))
    mask = tr.info["fault_mask"]
    faulty = tr.info["faulty_agent"]
    np.testing.assert_array_equal(mask, faulty[..., None] == np.arange(3))
    expected = np.where(mask, tr.fault_actions, tr.actions)
    np.testing.assert_array_equal(tr.info["executed_actions"], expected)
    # what the environment received: the reward of the 3-agent game is payoff[executed]
    e = tr.info["executed_actions"]
    np.testing.assert_array_equal(tr.reward, np.asarray(PAYOFF3)[e[..., 0], e[..., 1], e[..., 2]])
    assert mask.any() and (~mask).any()


@SETTINGS
@given(seed=SEEDS, env_name=st.sampled_from(sorted(ENVS)))
def test_a_fully_faulty_agents_proposal_has_no_effect(seed, env_name):
    env, _ = runner(FaultConfig(selection="simple", agent=0, p=1.0), env_name)
    step = _jitted_step(env)
    key = jax.random.key(seed)
    _, state = env.reset(key)
    avail = env.avail_actions(state)
    actions = uniform_actions(jax.random.fold_in(key, 1), avail)
    for t in range(5):
        k = jax.random.fold_in(key, t + 2)
        others = [jnp.asarray(actions).at[0].set(b) for b in range(env.num_actions)]
        outs = [step(k, state, act) for act in others]
        for out in outs[1:]:
            jax.tree.map(np.testing.assert_array_equal, out, outs[0])
        _, state, *_ = outs[0]


@functools.cache
def _jitted_step(env):
    return jax.jit(env.step)


# ---------------------------------------------------------------------- switcher
@SETTINGS
@given(
    seed=SEEDS,
    config=st.sampled_from(
        [
            FaultConfig(p=0.0, weights=(1.0, 0.0, 1.0), duration="persistent", budget=3),
            FaultConfig(p=1.0, selection="simple", agent=1, budget=5),
        ]
    ),
)
def test_switch_is_obeyed_when_allowed_and_a_running_fault_overrides_it(seed, config):
    _, run = runner(config, with_switch=True)
    tr = run(jax.random.key(seed))
    running = tr.before.faulty_agent >= 0
    choice = tr.switch
    allowed = np.take_along_axis(tr.switch_mask, choice[..., None], -1)[..., 0]
    expected = np.where(running, tr.before.faulty_agent, np.where(allowed, choice - 1, -1))
    np.testing.assert_array_equal(tr.info["faulty_agent"], expected)
    np.testing.assert_array_equal(tr.info["activation"], ~running & (choice > 0) & allowed)
    np.testing.assert_array_equal(tr.info["switch"], expected + 1)
    # the mask allows exactly the running choice while a fault runs
    np.testing.assert_array_equal(
        tr.switch_mask[running], np.arange(4) == tr.before.faulty_agent[running][:, None] + 1
    )
    assert tr.info["activation"].any()


# ---------------------------------------------------------------------- jit / vmap
@SETTINGS
@given(seed=SEEDS)
def test_vmap_equals_a_loop_of_single_steps(seed):
    config = FaultConfig(p=0.5, duration="persistent", terminate_p=0.4, budget=2)
    env, run = runner(config, num_envs=3, num_steps=4)
    tr = run(jax.random.key(seed))
    step = _jitted_step(env)
    k_reset, k_run = jax.random.split(jax.random.key(seed))
    reset_keys = jax.random.split(k_reset, 3)
    step_keys = jax.random.split(k_run, 4)
    for b in range(3):
        _, state = env.reset(reset_keys[b])
        for t in range(4):
            k_env = jax.random.split(step_keys[t], 4)[3]
            _, state, reward, done, info = step(
                jax.random.split(k_env, 3)[b], state, tr.actions[t, b]
            )
            assert float(reward) == tr.reward[t, b] and bool(done) == tr.done[t, b]
            for k in ("faulty_agent", "activation", "executed_actions", "budget_left"):
                np.testing.assert_array_equal(info[k], tr.info[k][t, b])
            jax.tree.map(
                np.testing.assert_array_equal,
                state.fault,
                jax.tree.map(operator.itemgetter((t, b)), tr.after),
            )


# ---------------------------------------------------------------------- config
@settings(max_examples=30, deadline=None, derandomize=True, database=None)
@given(
    field=st.sampled_from(["p", "terminate_p"]),
    value=st.floats(allow_nan=True) | st.floats(1.0, 1e9, exclude_min=True),
)
def test_probabilities_outside_unit_interval_are_rejected(field, value):
    if 0.0 <= value <= 1.0:
        FaultConfig(**{field: value})
        return
    try:
        FaultConfig(**{field: value})
    except ValueError as err:
        assert str(err).startswith(f"{field} must be a probability in [0, 1]")
    else:
        raise AssertionError(f"{field}={value} accepted")


@settings(max_examples=20, deadline=None, derandomize=True, database=None)
@given(budget=st.integers(-1000, 1000))
def test_negative_budgets_are_rejected(budget):
    if budget >= 0:
        assert FaultConfig(budget=budget).budget == budget
        return
    try:
        FaultConfig(budget=budget)
    except ValueError as err:
        assert str(err).startswith("budget must be an int >= 0 or None")
    else:
        raise AssertionError(f"budget={budget} accepted")
