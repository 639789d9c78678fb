"""Unit and property tests of the value-decomposition learner (IQL / VDN / QMIX)."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import marta.envs
from marta.learners import LEARNERS, MIXERS, ValueLearnerConfig, make_learner
from marta.learners.networks import MonotonicMixer, NoMixer, SumMixer
from marta.learners.replay import Episode, random_episodes
from marta.learners.value import target_agent_values, td_targets

SPEC = {"num_agents": 3, "num_actions": 4, "obs_dim": 5, "state_dim": 6, "max_steps": 4}


# ----------------------------------------------------------------------------- registry/config
VALUE_LEARNERS = sorted(n for n, e in LEARNERS.items() if e.config_cls is ValueLearnerConfig)


def test_registry_names_and_unknown_name():
    assert set(VALUE_LEARNERS) == {"iql", "vdn", "qmix"}
    assert set(LEARNERS) == {"iql", "vdn", "qmix", "maddpg"}
    assert {LEARNERS[k].mixer for k in VALUE_LEARNERS} == set(MIXERS)
    with pytest.raises(ValueError, match="iql, maddpg, qmix, vdn"):
        make_learner("qmx", ValueLearnerConfig(), SPEC)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("lr", 0.0),
        ("gamma", 1.5),
        ("target_update", "soft"),
        ("td_lambda", -0.1),
        ("tau", 0.0),
        ("obs_scale", 0.0),
        ("state_scale", -1.0),
        ("length_buckets", 0),
        ("min_bucket_length", 0),
        ("length_groups", 0),
        ("length_groups", 5),  # not a divisor of batch_size (32)
    ],
)
def test_config_validation_names_field(field, value):
    with pytest.raises(ValueError, match=field):
        ValueLearnerConfig(**{field: value})


def test_config_is_frozen_and_hashable():
    cfg = ValueLearnerConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.lr = 1.0  # type: ignore[misc]
    assert hash(cfg) == hash(ValueLearnerConfig())


# ----------------------------------------------------------------------------- mixers
_qmix = MonotonicMixer(embed_dim=8, hypernet_embed_dim=16)


@jax.jit
def _qmix_grad(key, q_i, state):
    params = _qmix.init(key, q_i, state)
    return jax.grad(lambda q: _qmix.apply(params, q, state).sum())(q_i)


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    scale=st.floats(0.1, 100.0),
)
def test_qmix_is_monotone_in_every_agent_value(seed, scale):
    num_agents = 4
    key_init, key_q, key_s = jax.random.split(jax.random.key(seed), 3)
    q_i = scale * jax.random.normal(key_q, (7, num_agents))
    state = scale * jax.random.normal(key_s, (7, 5))
    grad = _qmix_grad(key_init, q_i, state)
    assert grad.shape == (7, num_agents)
    assert bool(jnp.all(grad >= 0.0))


@settings(max_examples=30, deadline=None)
@given(values=st.lists(st.floats(-1e3, 1e3), min_size=2, max_size=6))
def test_vdn_is_the_sum_and_iql_the_identity(values):
    q_i = jnp.asarray(values, jnp.float32)
    state = jnp.zeros((3,))
    total = SumMixer().apply({}, q_i, state)
    assert total.shape == (1,)
    np.testing.assert_allclose(total[0], np.sum(np.float32(values)), rtol=1e-5, atol=1e-3)
    np.testing.assert_array_equal(NoMixer().apply({}, q_i, state), q_i)


# ----------------------------------------------------------------------------- TD targets
def test_one_step_targets_termination_vs_truncation():
    # episode 0 terminates at t=1 (no bootstrap there); episode 1 is truncated at t=1
    # (bootstraps from the final observation's value); t=2 is padding in both.
    reward = jnp.array([[1.0, 2.0, 9.0], [1.0, 2.0, 9.0]])
    terminated = jnp.array([[False, True, False], [False, False, False]])
    filled = jnp.array([[True, True, False], [True, True, False]])
    next_values = jnp.array([[[10.0], [20.0], [30.0]], [[10.0], [20.0], [30.0]]])
    y = td_targets(reward, terminated, filled, next_values, gamma=0.5)
    np.testing.assert_allclose(y[0, :2, 0], [1.0 + 0.5 * 10.0, 2.0])
    np.testing.assert_allclose(y[1, :2, 0], [1.0 + 0.5 * 10.0, 2.0 + 0.5 * 20.0])


def test_td_lambda_targets_by_hand():
    gamma, lam = 0.9, 0.5
    reward = jnp.array([[1.0, 2.0, 3.0]])
    terminated = jnp.array([[False, False, False]])
    filled = jnp.array([[True, True, True]])
    v = jnp.array([[[4.0], [5.0], [6.0]]])  # V_{t+1}
    g2 = 3.0 + gamma * 6.0  # last step of the episode (truncated): full bootstrap
    g1 = 2.0 + gamma * ((1 - lam) * 5.0 + lam * g2)
    g0 = 1.0 + gamma * ((1 - lam) * 4.0 + lam * g1)
    y = td_targets(reward, terminated, filled, v, gamma=gamma, td_lambda=lam)
    np.testing.assert_allclose(y[0, :, 0], [g0, g1, g2], rtol=1e-6)
    one_step = td_targets(reward, terminated, filled, v, gamma=gamma, td_lambda=0.0)
    np.testing.assert_allclose(one_step[0, :, 0], [1 + gamma * 4, 2 + gamma * 5, g2], rtol=1e-6)


def test_double_q_uses_online_argmax_over_available_actions():
    q_online = jnp.array([[5.0, 1.0, 3.0], [0.0, 9.0, 2.0]])
    q_target = jnp.array([[10.0, 20.0, 30.0], [40.0, 50.0, 60.0]])
    avail = jnp.array([[False, True, True], [True, False, True]])
    # online argmax over available: agent 0 -> action 2, agent 1 -> action 2
    np.testing.assert_allclose(target_agent_values(q_online, q_target, avail, True), [30.0, 60.0])
    # plain max of the target over available actions
    avail_max = jnp.array([[True, True, False], [True, True, False]])
    np.testing.assert_allclose(
        target_agent_values(q_online, q_target, avail_max, False), [20.0, 50.0]
    )


def _hand_batch(num_actions: int) -> Episode:
    """One episode of 3 steps for 2 agents, truncated after 2 steps (t=2 is padding)."""
    rng = np.random.default_rng(0)
    avail = np.ones((1, 4, 2, num_actions), bool)
    avail[0, 1, 0, 1:] = False  # at t=1 agent 0 may only take action 0
    avail[0, 2, 1, 0] = False  # at the final observation agent 1 may not take action 0
    return Episode(
        obs=jnp.asarray(rng.normal(size=(1, 4, 2, 3)), jnp.float32),
        state=jnp.asarray(rng.normal(size=(1, 4, 2)), jnp.float32),
        avail=jnp.asarray(avail),
        actions=jnp.array([[[1, 2], [0, 1], [2, 2]]], jnp.int32),
        reward=jnp.array([[0.5, -1.0, 7.0]], jnp.float32),
        terminated=jnp.array([[False, False, False]]),
        filled=jnp.array([[True, True, False]]),
    )


@pytest.mark.parametrize("name", VALUE_LEARNERS)
def test_loss_matches_hand_computation(name):
    """Loss from whole-episode unrolls == a step-by-step recomputation with `q_values`."""
    spec = {"num_agents": 2, "num_actions": 3, "obs_dim": 3, "state_dim": 2}
    cfg = ValueLearnerConfig(gamma=0.9, reward_scale=2.0, hidden_dim=8, mixer_embed_dim=4)
    learner = make_learner(name, cfg, spec)
    state = learner.init(jax.random.key(1))
    target = jax.tree.map(lambda x: x + 0.05, state.params)  # a distinct target network
    batch = _hand_batch(3)

    q_values = jax.jit(learner.q_values)

    def unroll(params):
        carry, qs = learner.initial_carry(), []
        for t in range(4):
            q, carry = q_values(params, batch.obs[0, t], carry)
            qs.append(np.asarray(q))
            if t < 3:
                carry = carry.replace(last_action=batch.actions[0, t])
        return np.stack(qs)  # [T+1, N, A]

    q, q_bar = unroll(state.params), unroll(target)
    mix = MIXERS[LEARNERS[name].mixer](
        **({"embed_dim": 4, "hypernet_embed_dim": 64} if name == "qmix" else {})
    )
    sq_errors = []
    for t in range(2):  # the two real steps; the episode is truncated after t=1
        taken = q[t][np.arange(2), np.asarray(batch.actions[0, t])]
        avail_next = np.asarray(batch.avail[0, t + 1])
        best = np.argmax(np.where(avail_next, q[t + 1], -np.inf), axis=-1)
        next_i = q_bar[t + 1][np.arange(2), best]
        q_mix = mix.apply(state.params["mixer"], jnp.asarray(taken), batch.state[0, t])
        v_next = mix.apply(target["mixer"], jnp.asarray(next_i), batch.state[0, t + 1])
        y = 2.0 * float(batch.reward[0, t]) + 0.9 * np.asarray(v_next)  # bootstrap (truncated)
        sq_errors.append((np.asarray(q_mix) - y) ** 2)
    expected = np.mean(np.stack(sq_errors))
    loss_fn = jax.jit(learner.loss)
    loss, _ = loss_fn(state.params, target, batch)
    np.testing.assert_allclose(float(loss), expected, rtol=1e-4)
    # with termination at t=1 the last target drops its bootstrap term: the loss changes
    terminal = batch.replace(terminated=jnp.array([[False, True, False]]))
    terminal_loss = float(loss_fn(state.params, target, terminal)[0])
    assert abs(terminal_loss - expected) > 1e-4
    # treating the time limit as terminal gives exactly the terminal loss
    no_bootstrap = make_learner(name, dataclasses.replace(cfg, bootstrap_on_truncation=False), spec)
    np.testing.assert_allclose(
        float(jax.jit(no_bootstrap.loss)(state.params, target, batch)[0]), terminal_loss, rtol=1e-6
    )


# ----------------------------------------------------------------------------- acting
_ACT_LEARNER = make_learner("qmix", ValueLearnerConfig(hidden_dim=8), SPEC)
_ACT_STATE = _ACT_LEARNER.init(jax.random.key(0))
_act = jax.jit(_ACT_LEARNER.act)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    mask_bits=st.lists(st.integers(1, 2**4 - 1), min_size=3, max_size=3),
    explore=st.booleans(),
)
def test_act_never_chooses_unavailable_actions(seed, mask_bits, explore):
    avail = jnp.asarray([[(b >> a) & 1 == 1 for a in range(4)] for b in mask_bits])
    key_obs, key_act = jax.random.split(jax.random.key(seed))
    obs = jax.random.normal(key_obs, (3, 5))
    carry = _ACT_LEARNER.initial_carry()
    actions, q, new_carry = _act(key_act, _ACT_STATE, obs, carry, avail, explore)
    assert actions.shape == (3,) and actions.dtype == jnp.int32
    assert q.shape == (3, 4)
    assert bool(jnp.all(avail[jnp.arange(3), actions]))
    np.testing.assert_array_equal(new_carry.last_action, actions)
    if not explore:  # greedy: the best available action
        best = jnp.argmax(jnp.where(avail, q, -jnp.inf), axis=-1)
        np.testing.assert_array_equal(actions, best)


def test_act_returns_the_q_values_of_the_network():
    obs = jnp.ones((3, 5))
    carry = _ACT_LEARNER.initial_carry()
    _, q, carry_act = _act(jax.random.key(3), _ACT_STATE, obs, carry, jnp.ones((3, 4), bool), False)
    q_ref, carry_ref = _ACT_LEARNER.q_values(_ACT_STATE.params, obs, carry)
    np.testing.assert_allclose(q, q_ref, rtol=1e-6)
    np.testing.assert_allclose(carry_act.hidden, carry_ref.hidden, rtol=1e-6)


def test_obs_scale_none_takes_the_environments_recommendation():
    """obs_scale=None multiplies the observations by ``env_spec["obs_scale"]`` (1 if absent);
    an explicit obs_scale wins over the recommendation."""
    obs, carry = 4.0 * jax.random.normal(jax.random.key(5), (3, 5)), _ACT_LEARNER.initial_carry()

    def q(config, spec, inputs):
        learner = make_learner("vdn", config, spec)
        params = learner.init(jax.random.key(0)).params  # init does not depend on the scale
        return np.asarray(learner.q_values(params, inputs, carry)[0])

    recommended = {**SPEC, "obs_scale": 0.25}
    default = q(ValueLearnerConfig(hidden_dim=8), recommended, obs)
    np.testing.assert_allclose(
        default, q(ValueLearnerConfig(hidden_dim=8), SPEC, obs / 4), rtol=1e-5
    )
    assert not np.allclose(default, q(ValueLearnerConfig(hidden_dim=8), SPEC, obs), atol=1e-3)
    explicit = q(ValueLearnerConfig(hidden_dim=8, obs_scale=0.5), recommended, obs)
    np.testing.assert_allclose(
        explicit, q(ValueLearnerConfig(hidden_dim=8), SPEC, obs / 2), rtol=1e-5
    )


@pytest.mark.parametrize("env_id", ["lbf-5x5-4p-1f", "lbf-8x8-2p-2f-coop-2s"])
def test_lbf_obs_scale_puts_the_observations_in_minus_one_one(env_id):
    """The recommendation is 1 / the largest coordinate or level: scaled observations of
    random play stay in [-1, 1] and are not tiny."""
    env = marta.envs.make(env_id)

    def step(state, key):
        actions = marta.envs.random_policy(key, None, env.avail_actions(state))
        obs, state, _, _, _ = env.step(key, state, actions)
        return state, jnp.abs(obs).max()

    def episode(key):
        obs, state = env.reset(key)
        biggest = jax.lax.scan(step, state, jax.random.split(key, env.max_steps))[1].max()
        return jnp.maximum(jnp.abs(obs).max(), biggest)

    biggest = jax.jit(jax.vmap(episode))(jax.random.split(jax.random.key(1), 16)).max()
    assert 0.5 <= float(biggest) * env.spec["obs_scale"] <= 1.0


def test_epsilon_schedule_is_linear_then_constant():
    cfg = ValueLearnerConfig(epsilon_start=1.0, epsilon_finish=0.1, epsilon_anneal_steps=1000)
    learner = make_learner("iql", cfg, SPEC)
    state = learner.init(jax.random.key(0))
    eps = [
        float(learner.epsilon(state.replace(env_steps=jnp.int32(t)))) for t in (0, 500, 1000, 5000)
    ]
    np.testing.assert_allclose(eps, [1.0, 0.55, 0.1, 0.1], rtol=1e-6)


def test_exploration_rate_matches_epsilon():
    """With all actions available and epsilon = 1, actions are uniform over the 4 actions."""
    keys = jax.random.split(jax.random.key(7), 2000)
    obs = jnp.zeros((3, 5))
    carry = _ACT_LEARNER.initial_carry()
    actions = jax.vmap(
        lambda k: _ACT_LEARNER.act(k, _ACT_STATE, obs, carry, jnp.ones((3, 4), bool), True)[0]
    )(keys)
    freq = np.bincount(np.asarray(actions).ravel(), minlength=4) / actions.size
    np.testing.assert_allclose(freq, 0.25, atol=0.03)


# ----------------------------------------------------------------------------- updates
def _random_batch(key, spec, batch=4, steps=4):
    episodes = random_episodes(key, spec, batch, steps)
    return episodes.replace(terminated=episodes.terminated.at[:, -1].set(True))


@pytest.mark.parametrize("name", VALUE_LEARNERS)
def test_updates_reduce_the_loss_on_a_fixed_batch(name):
    cfg = ValueLearnerConfig(hidden_dim=16, lr=3e-3, target_update_interval=1000)
    learner = make_learner(name, cfg, SPEC)
    state = learner.init(jax.random.key(0))
    batch = _random_batch(jax.random.key(1), SPEC)
    update = jax.jit(learner.update)
    _, first = update(jax.random.key(2), state, batch)
    for i in range(40):
        state, metrics = update(jax.random.key(i), state, batch)
    assert int(state.updates) == 40
    assert float(metrics["loss"]) < 0.7 * float(first["loss"])
    assert update._cache_size() == 1  # no recompilation across calls


def test_hard_and_polyak_target_updates():
    batch = _random_batch(jax.random.key(1), SPEC, batch=2, steps=2)
    hard = make_learner("vdn", ValueLearnerConfig(hidden_dim=8, target_update_interval=3), SPEC)
    state = hard.init(jax.random.key(0))
    hard_update = jax.jit(hard.update)
    for i in range(3):
        before = state.target_params
        state, _ = hard_update(jax.random.key(i), state, batch)
        leaves = zip(
            jax.tree.leaves(state.target_params), jax.tree.leaves(state.params), strict=True
        )
        synced = all(bool(jnp.array_equal(t, p)) for t, p in leaves)
        assert synced == (i == 2)
        if i < 2:
            assert jax.tree.all(jax.tree.map(jnp.array_equal, before, state.target_params))

    tau = 0.25
    polyak = make_learner(
        "vdn", ValueLearnerConfig(hidden_dim=8, target_update="polyak", tau=tau), SPEC
    )
    state = polyak.init(jax.random.key(0))
    old_target = state.target_params
    state, _ = jax.jit(polyak.update)(jax.random.key(0), state, batch)
    expected = jax.tree.map(lambda p, t: tau * p + (1 - tau) * t, state.params, old_target)
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7),
        state.target_params,
        expected,
    )
