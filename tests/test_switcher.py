"""Tests of the MARTA Switcher (marta/switcher): features, reward, discrete SAC, replay."""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marta.switcher import (
    SwitcherConfig,
    SwitcherTransition,
    feature_dim,
    make_switcher,
    make_switcher_buffer,
    masked_policy,
    soft_td_target,
    switcher_features,
    switcher_mask,
    switcher_reward,
    target_entropy,
)
from marta.switcher.sac import MLP

SMALL = SwitcherConfig(hidden_sizes=(16,), batch_size=8, buffer_capacity=64)


def transitions(key, batch, feat_dim, num_choices, **overrides):
    """Random Switcher transitions with every choice allowed (fields overridable)."""
    k1, k2, k3, k4 = jax.random.split(key, 4)
    fields = dict(
        features=jax.random.normal(k1, (batch, feat_dim)),
        mask=jnp.ones((batch, num_choices), bool),
        choice=jax.random.randint(k2, (batch,), 0, num_choices),
        switcher_reward=jax.random.normal(k3, (batch,)),
        next_features=jax.random.normal(k4, (batch, feat_dim)),
        next_mask=jnp.ones((batch, num_choices), bool),
        terminated=jnp.zeros((batch,), bool),
    )
    fields.update(overrides)
    return SwitcherTransition(**fields)


# ----------------------------------------------------------------------------- config
@pytest.mark.parametrize(
    "field, value",
    [
        ("hidden_sizes", ()),
        ("hidden_sizes", (64, 0)),
        ("hidden_sizes", [64]),
        ("actor_lr", 0.0),
        ("critic_lr", -1e-3),
        ("alpha_lr", -1.0),
        ("gamma", 1.0),
        ("tau", 0.0),
        ("tau", 1.5),
        ("target_entropy_scale", 1.2),
        ("initial_alpha", 0.0),
        ("activation_cost", -0.1),
        ("reward_scale", 0.0),
        ("reward_scale", float("nan")),
        ("batch_size", 0),
        ("buffer_capacity", 4),
        ("grad_clip", 0.0),
        ("use_budget", 1),
    ],
)
def test_config_rejects_bad_values_naming_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        SwitcherConfig(**{"batch_size": 8, "buffer_capacity": 64, field: value})


def test_config_defaults_follow_the_paper_and_are_hashable():
    config = SwitcherConfig()
    assert config.gamma == 0.99  # "Switcher discount factor 0.99"
    assert config.activation_cost == 0.0  # "Unless otherwise stated, we use c=0"
    assert hash(config) == hash(SwitcherConfig())
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.gamma = 0.5


# ----------------------------------------------------------------------------- features
def test_features_layout_and_dim():
    state = jnp.array([0.5, -1.0], jnp.float32)
    team = jnp.array([2, 0, 1])
    fault = jnp.array([1, 1, 0])
    x = switcher_features(state, team, fault, num_actions=3)
    assert x.shape == (feature_dim(2, 3, 3, use_budget=False),) == (2 + 2 * 3 * 3,)
    np.testing.assert_array_equal(x[:2], state)
    np.testing.assert_array_equal(x[2:11].reshape(3, 3), np.eye(3)[[2, 0, 1]])
    np.testing.assert_array_equal(x[11:20].reshape(3, 3), np.eye(3)[[1, 1, 0]])

    xb = switcher_features(state, team, fault, num_actions=3, budget_fraction=1.7)
    assert xb.shape == (feature_dim(2, 3, 3, use_budget=True),)
    assert xb[-1] == 1.0  # clipped into [0, 1]
    np.testing.assert_array_equal(xb[:-1], x)


def test_features_batched_and_under_jit():
    keys = jax.random.split(jax.random.key(0), 3)
    state = jax.random.normal(keys[0], (5, 4))
    team = jax.random.randint(keys[1], (5, 2), 0, 3)
    fault = jax.random.randint(keys[2], (5, 2), 0, 3)
    budget = jnp.linspace(0.0, 1.0, 5)
    batched = jax.jit(switcher_features, static_argnums=3)(state, team, fault, 3, budget)
    assert batched.shape == (5, feature_dim(4, 2, 3, True))
    for b in range(5):
        single = switcher_features(state[b], team[b], fault[b], 3, budget[b])
        np.testing.assert_allclose(batched[b], single)


def test_switcher_mask_forbids_faults_without_budget():
    np.testing.assert_array_equal(switcher_mask(3), [True] * 4)
    mask = switcher_mask(2, jnp.array([0, 1, 5]))
    np.testing.assert_array_equal(mask, [[True, False, False], [True, True, True], [True] * 3])


def test_feature_dim_rejects_bad_sizes():
    with pytest.raises(ValueError, match="num_agents"):
        feature_dim(3, 0, 2, False)


# ----------------------------------------------------------------------------- reward
def test_switcher_reward_negates_team_reward_and_charges_activations():
    team_reward = jnp.array([1.0, 1.0, -2.0, 0.5])
    choice = jnp.array([0, 2, 0, 1])
    r_s = switcher_reward(team_reward, choice, cost=0.25)
    np.testing.assert_allclose(r_s, [-1.0, -1.25, 2.0, -0.75])
    # no cost -> exactly the negated team reward, whatever the choice
    np.testing.assert_allclose(switcher_reward(team_reward, choice, 0.0), -team_reward)
    # a reward scale k multiplies the whole reward, the cost included (c keeps team units)
    np.testing.assert_allclose(
        switcher_reward(team_reward, choice, 0.25, scale=0.1), [-0.1, -0.125, 0.2, -0.075]
    )


# ----------------------------------------------------------------------------- policy / mask
def test_masked_policy_zero_probability_and_no_nan_gradients():
    logits = jnp.array([[5.0, 1.0, -2.0], [0.0, 0.0, 0.0]])
    mask = jnp.array([[False, True, True], [True, False, True]])
    probs, log_probs = masked_policy(logits, mask)
    assert np.all(np.asarray(probs)[~np.asarray(mask)] == 0.0)
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(probs[1], [0.5, 0.0, 0.5], rtol=1e-6)

    def entropy(z):
        p, lp = masked_policy(z, mask)
        return -jnp.sum(p * lp)

    grad = jax.grad(entropy)(logits)
    assert np.all(np.isfinite(grad))
    assert np.all(np.asarray(grad)[~np.asarray(mask)] == 0.0)


def test_masked_policy_all_false_falls_back_to_no_fault():
    probs, _ = masked_policy(jnp.array([3.0, 1.0, 2.0]), jnp.zeros(3, bool))
    np.testing.assert_array_equal(probs, [1.0, 0.0, 0.0])


_ACT_SWITCHER = make_switcher(SMALL)
_ACT_STATE = _ACT_SWITCHER.init(jax.random.key(1), 6, 4)
_ACT = jax.jit(_ACT_SWITCHER.act)


@settings(max_examples=25, deadline=None)
@given(
    mask_bits=st.lists(st.booleans(), min_size=4, max_size=4).filter(any),
    seed=st.integers(0, 2**31 - 1),
    explore=st.booleans(),
)
def test_masked_choices_never_chosen_and_get_zero_probability(mask_bits, seed, explore):
    mask = jnp.broadcast_to(jnp.array(mask_bits), (64, 4))
    key_x, key_act = jax.random.split(jax.random.key(seed))
    features = 3.0 * jax.random.normal(key_x, (64, 6))
    choice, probs = _ACT(key_act, _ACT_STATE, features, mask, explore)
    allowed = np.asarray(mask_bits)
    assert np.all(allowed[np.asarray(choice)])
    assert np.all(np.asarray(probs)[:, ~allowed] == 0.0)
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)


def test_act_greedy_is_argmax_and_explore_samples_the_policy():
    switcher = make_switcher(SMALL)
    state = switcher.init(jax.random.key(0), 5, 3)
    features = jax.random.normal(jax.random.key(1), (5,))
    mask = jnp.array([True, True, True])
    choice, probs = jax.jit(switcher.act)(jax.random.key(2), state, features, mask, False)
    assert choice.shape == () and choice.dtype == jnp.int32
    assert int(choice) == int(jnp.argmax(probs))
    keys = jax.random.split(jax.random.key(3), 4000)
    samples, _ = jax.jit(jax.vmap(switcher.act, in_axes=(0, None, None, None, None)))(
        keys, state, features, mask, True
    )
    freq = np.bincount(np.asarray(samples), minlength=3) / len(keys)
    np.testing.assert_allclose(freq, probs, atol=0.03)


# ----------------------------------------------------------------------------- SAC pieces
def test_target_entropy_counts_allowed_choices():
    mask = jnp.array([[True, True, True, True], [True, False, False, False], [True, True, 0, 0]])
    np.testing.assert_allclose(
        target_entropy(mask, 0.5), [0.5 * math.log(4), 0.0, 0.5 * math.log(2)], rtol=1e-6
    )


def test_twin_q_soft_target_on_a_hand_computed_batch():
    reward = jnp.array([1.0, -0.5])
    terminated = jnp.array([False, True])
    next_target_q = jnp.array(
        [[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], [[2.0, 1.0, 4.0], [0.0, 0.0, 0.0]]]
    )  # [2 critics, B=2, C=3]; min over critics: [[1, 1, 3], [0, 0, 0]]
    probs, log_probs = masked_policy(jnp.zeros((2, 3)), jnp.array([[1, 1, 0], [1, 1, 1]], bool))
    y = soft_td_target(reward, terminated, next_target_q, probs, log_probs, alpha=0.5, gamma=0.9)
    # row 0: V = sum_g pi (minQ - alpha log pi) = 0.5 (1 + 0.5 ln 2) * 2 = 1 + 0.5 ln 2
    # (the masked choice's larger Q of 3 must not count); row 1 is terminal: y = r.
    expected = [1.0 + 0.9 * (1.0 + 0.5 * math.log(2.0)), -0.5]
    np.testing.assert_allclose(y, expected, rtol=1e-6)


@pytest.mark.parametrize("scale, direction", [(1.0, +1), (0.0, -1)])
def test_alpha_moves_toward_the_target_entropy(scale, direction):
    """Near-uniform initial policy: entropy < log|A| (alpha up), entropy > 0 (alpha down)."""
    config = dataclasses.replace(SMALL, target_entropy_scale=scale, alpha_lr=1e-2)
    switcher = make_switcher(config)
    state = switcher.init(jax.random.key(0), 5, 3)
    batch = transitions(jax.random.key(1), 8, 5, 3)
    new_state, metrics = jax.jit(switcher.update)(jax.random.key(2), state, batch)
    assert direction * (float(new_state.log_alpha) - float(state.log_alpha)) > 0
    assert metrics["target_entropy"] == pytest.approx(scale * math.log(3), rel=1e-6)
    assert 0.0 < float(metrics["entropy"]) < math.log(3)


def test_alpha_fixed_when_not_autotuned():
    switcher = make_switcher(dataclasses.replace(SMALL, autotune_alpha=False, initial_alpha=0.3))
    state = switcher.init(jax.random.key(0), 5, 3)
    new_state, metrics = jax.jit(switcher.update)(
        jax.random.key(1), state, transitions(jax.random.key(2), 8, 5, 3)
    )
    assert float(metrics["alpha"]) == pytest.approx(0.3, rel=1e-6)
    assert float(new_state.log_alpha) == float(state.log_alpha)


def test_target_critics_are_polyak_averaged():
    switcher = make_switcher(dataclasses.replace(SMALL, tau=0.25))
    state = switcher.init(jax.random.key(0), 5, 3)
    new_state, _ = jax.jit(switcher.update)(
        jax.random.key(1), state, transitions(jax.random.key(2), 8, 5, 3)
    )
    for old_target, new_online, new_target in zip(
        jax.tree.leaves(state.target_critic_params),
        jax.tree.leaves(new_state.critic_params),
        jax.tree.leaves(new_state.target_critic_params),
        strict=True,
    ):
        np.testing.assert_allclose(new_target, 0.25 * new_online + 0.75 * old_target, atol=1e-6)
    assert not all(
        np.array_equal(a, b)
        for a, b in zip(
            jax.tree.leaves(state.critic_params),
            jax.tree.leaves(new_state.critic_params),
            strict=True,
        )
    )


def test_critics_reach_the_hand_computed_fixed_point():
    """x' = x with only "no fault" allowed next: Q(x, 0) = r / (1 - gamma) = 2 (no entropy
    term since the next policy is deterministic); a terminal choice: Q(x, 1) = its reward."""
    config = dataclasses.replace(SMALL, gamma=0.5, tau=0.2, critic_lr=1e-2, actor_lr=1e-3)
    switcher = make_switcher(config)
    state = switcher.init(jax.random.key(0), 2, 3)
    x = jnp.array([[1.0, 0.0], [1.0, 0.0]])
    batch = SwitcherTransition(
        features=x,
        mask=jnp.ones((2, 3), bool),
        choice=jnp.array([0, 1]),
        switcher_reward=jnp.array([1.0, -0.7]),
        next_features=x,
        next_mask=jnp.array([[True, False, False], [True, False, False]]),
        terminated=jnp.array([False, True]),
    )

    def body(state, key):
        return switcher.update(key, state, batch)

    state, metrics = jax.jit(
        lambda s: jax.lax.scan(body, s, jax.random.split(jax.random.key(1), 600))
    )(state)
    critic = MLP(config.hidden_sizes, 3)
    q = jax.vmap(critic.apply, in_axes=(0, None))(state.critic_params, x[0])
    np.testing.assert_allclose(q[:, 0], [2.0, 2.0], atol=0.05)
    np.testing.assert_allclose(q[:, 1], [-0.7, -0.7], atol=0.05)
    assert float(metrics["q_loss"][-1]) < 1e-3


# ----------------------------------------------------------------------------- replay
def test_buffer_add_sample_and_wraparound():
    buffer = make_switcher_buffer(5)
    example = transitions(jax.random.key(0), 1, 2, 3)
    state = buffer.init(jax.tree.map(lambda leaf: leaf[0], example))
    assert int(state.size) == 0 and state.data.features.shape == (5, 2)

    def numbered(first, count):
        ids = jnp.arange(first, first + count)
        return transitions(
            jax.random.key(0), count, 2, 3, choice=ids, switcher_reward=ids.astype(jnp.float32)
        )

    add = jax.jit(buffer.add)
    state = add(state, numbered(0, 3))
    assert (int(state.size), int(state.position)) == (3, 3)
    np.testing.assert_array_equal(state.data.choice[:3], [0, 1, 2])
    state = add(state, numbered(3, 4))  # 3, 4 fill the end; 5, 6 overwrite the oldest 0, 1
    assert (int(state.size), int(state.position)) == (5, 2)
    np.testing.assert_array_equal(state.data.choice, [5, 6, 2, 3, 4])

    batch = jax.jit(buffer.sample, static_argnums=2)(jax.random.key(1), state, 500)
    assert batch.features.shape == (500, 2) and batch.mask.shape == (500, 3)
    np.testing.assert_array_equal(batch.switcher_reward, batch.choice.astype(np.float32))
    assert set(np.asarray(batch.choice).tolist()) == {2, 3, 4, 5, 6}


def test_buffer_samples_only_valid_slots():
    buffer = make_switcher_buffer(100)
    example = jax.tree.map(lambda leaf: leaf[0], transitions(jax.random.key(0), 1, 2, 3))
    state = buffer.add(
        buffer.init(example), transitions(jax.random.key(0), 2, 2, 3, choice=jnp.array([1, 2]))
    )
    batch = buffer.sample(jax.random.key(3), state, 200)
    assert set(np.asarray(batch.choice).tolist()) == {1, 2}


# ----------------------------------------------------------------------------- determinism
def test_update_is_deterministic_and_vmaps_over_seeds():
    switcher = make_switcher(SMALL)

    def run(key):
        k_init, k_batch, k_update = jax.random.split(key, 3)
        state = switcher.init(k_init, 5, 3)
        state, metrics = switcher.update(k_update, state, transitions(k_batch, 8, 5, 3))
        return state, metrics

    keys = jax.random.split(jax.random.key(7), 3)
    run_vmapped = jax.jit(jax.vmap(run))
    vmapped_state, vmapped_metrics = run_vmapped(keys)
    again_state, again_metrics = run_vmapped(keys)
    for a, b in zip(jax.tree.leaves(vmapped_state), jax.tree.leaves(again_state), strict=True):
        np.testing.assert_array_equal(a, b)
    for name, value in vmapped_metrics.items():
        np.testing.assert_array_equal(value, again_metrics[name])
    run_single = jax.jit(run)  # a separately compiled program: same numbers per key
    for i in range(3):
        single_state, single_metrics = run_single(keys[i])
        for name, value in single_metrics.items():
            np.testing.assert_allclose(vmapped_metrics[name][i], value, rtol=1e-5, atol=1e-6)
        for a, b in zip(jax.tree.leaves(vmapped_state), jax.tree.leaves(single_state), strict=True):
            np.testing.assert_allclose(a[i], b, rtol=1e-5, atol=1e-6)
    assert float(vmapped_metrics["q_loss"][0]) != float(vmapped_metrics["q_loss"][1])


# ----------------------------------------------------------------------------- learning
NUM_CONTEXTS, NUM_AGENTS, NUM_ACTIONS, NUM_ENVS = 3, 2, 2, 16


def _context_game_train(config: SwitcherConfig, iterations: int):
    """A 3-context stochastic game: contexts are i.i.d. uniform each step (never terminal).

    Team reward 1, except that any fault (choice != 0) in context 0 drops it to 0. With cost
    c, the Switcher's one-step gain from activating is 1 - c in context 0 and -c elsewhere.
    Proposed team/fault actions are random noise features.
    """
    switcher = make_switcher(config)
    buffer = make_switcher_buffer(config.buffer_capacity)
    feat_dim = feature_dim(NUM_CONTEXTS, NUM_AGENTS, NUM_ACTIONS, use_budget=False)
    num_choices = NUM_AGENTS + 1
    mask = jnp.ones((NUM_ENVS, num_choices), bool)

    def observe(key, contexts=None):
        k_ctx, k_team, k_fault = jax.random.split(key, 3)
        if contexts is None:
            contexts = jax.random.randint(k_ctx, (NUM_ENVS,), 0, NUM_CONTEXTS)
        actions_shape = (contexts.shape[0], NUM_AGENTS)
        features = switcher_features(
            jax.nn.one_hot(contexts, NUM_CONTEXTS),
            jax.random.randint(k_team, actions_shape, 0, NUM_ACTIONS),
            jax.random.randint(k_fault, actions_shape, 0, NUM_ACTIONS),
            NUM_ACTIONS,
        )
        return contexts, features

    def train(key):
        k_init, k_obs, k_loop, k_eval = jax.random.split(key, 4)
        state = switcher.init(k_init, feat_dim, num_choices)
        example = transitions(jax.random.key(0), 1, feat_dim, num_choices)
        buffer_state = buffer.init(jax.tree.map(lambda leaf: leaf[0], example))

        def step(carry, key):
            state, buffer_state, contexts, features = carry
            k_act, k_obs, k_sample, k_update = jax.random.split(key, 4)
            choice, _ = switcher.act(k_act, state, features, mask, True)
            team_reward = 1.0 - ((contexts == 0) & (choice != 0)).astype(jnp.float32)
            next_contexts, next_features = observe(k_obs)
            buffer_state = buffer.add(
                buffer_state,
                SwitcherTransition(
                    features=features,
                    mask=mask,
                    choice=choice,
                    switcher_reward=switcher_reward(team_reward, choice, config.activation_cost),
                    next_features=next_features,
                    next_mask=mask,
                    terminated=jnp.zeros((NUM_ENVS,), bool),
                ),
            )
            batch = buffer.sample(k_sample, buffer_state, config.batch_size)
            state, metrics = switcher.update(k_update, state, batch)
            return (state, buffer_state, next_contexts, next_features), metrics

        carry = (state, buffer_state, *observe(k_obs))
        (state, *_), metrics = jax.lax.scan(step, carry, jax.random.split(k_loop, iterations))
        _, eval_features = observe(k_eval, jnp.repeat(jnp.arange(NUM_CONTEXTS), 50))
        _, probs = switcher.act(k_eval, state, eval_features, jnp.ones((150, 3), bool), False)
        activation = 1.0 - probs[:, 0].reshape(NUM_CONTEXTS, 50).mean(-1)
        return activation, metrics

    return train


def test_switcher_learns_to_activate_only_where_faults_hurt():
    config = SwitcherConfig(
        hidden_sizes=(64, 64),
        batch_size=128,
        buffer_capacity=4096,
        gamma=0.5,
        activation_cost=0.3,
        alpha_lr=3e-3,
        target_entropy_scale=0.3,
    )
    train = _context_game_train(config, iterations=1500)
    activation, metrics = jax.jit(jax.vmap(train))(jax.random.split(jax.random.key(2024), 3))
    activation = np.asarray(activation)  # [seed, context]: P(g != 0 | context)
    assert np.all(activation[:, 0] >= 0.8), activation
    assert np.all(activation[:, 1:] <= 0.1), activation
    # the soft value of the context game is about -(c / 3 + 2 / 3) / (1 - gamma) = -1.53
    q_mean = np.asarray(metrics["q_mean"])[:, -100:].mean()
    assert -1.8 < q_mean < -1.3, q_mean
