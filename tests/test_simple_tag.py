"""Unit tests of the pure-JAX MPE Simple-Tag and its particle physics (`mpe_core`)."""

from __future__ import annotations

import functools
import operator

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mpe2 import simple_tag_v3

import marta.envs
from marta.envs import mpe_core
from marta.envs.simple_tag import (
    PREY_POLICIES,
    SimpleTag,
    SimpleTagState,
    boundary_penalty,
)

FAR = 50.0  # spacing that keeps entities out of contact

# one instance per configuration, so jitted functions compile once for the whole module
ENV = marta.envs.make("mpe-simple-tag")
FROZEN = marta.envs.make("mpe-simple-tag", prey_policy="frozen")
STEP = jax.jit(ENV.step)
STEP_ALL = jax.jit(ENV.step_all)
CONTACT_FORCES = jax.jit(mpe_core.contact_forces)


def _state(pos, vel=None) -> SimpleTagState:
    pos = jnp.asarray(pos, jnp.float32)
    vel = jnp.zeros_like(pos) if vel is None else jnp.asarray(vel, jnp.float32)
    return SimpleTagState(pos=pos, vel=vel)


def _spread_out(env: SimpleTag) -> np.ndarray:
    """Entity positions far from each other (no contact forces)."""
    return np.stack([(np.arange(env.num_entities) + 1) * FAR, np.zeros(env.num_entities)], -1)


# ----------------------------------------------------------------------------- sizes
@pytest.mark.parametrize("sizes", [(3, 1, 2), (4, 1, 2), (2, 3, 0), (5, 2, 4)])
def test_obs_and_state_sizes_match_mpe2_spaces(sizes):
    num_pred, num_prey, num_obst = sizes
    env = marta.envs.make(
        "mpe-simple-tag", num_predators=num_pred, num_prey=num_prey, num_obstacles=num_obst
    )
    ref = simple_tag_v3.parallel_env(
        num_adversaries=num_pred, num_good=num_prey, num_obstacles=num_obst
    )
    assert env.num_agents == num_pred and env.num_actions == 5 and env.max_steps == 25
    assert env.obs_dim == ref.observation_space("adversary_0").shape[0]
    assert env.prey_obs_dim == ref.observation_space("agent_0").shape[0]
    assert env.state_dim == 4 * (num_pred + num_prey + num_obst)
    obs, state = jax.eval_shape(env.reset, jax.random.key(0))  # shapes only, no compile
    assert obs.shape == (num_pred, env.obs_dim) and obs.dtype == jnp.float32
    prey_obs = jax.eval_shape(env.prey_observations, state.env)
    assert prey_obs.shape == (num_prey, env.prey_obs_dim)
    assert jax.eval_shape(env.global_state, state).shape == (env.state_dim,)


def test_default_id_is_three_predators_one_prey_two_obstacles():
    cfg = ENV.config
    assert (cfg.num_predators, cfg.num_prey, cfg.num_obstacles) == (3, 1, 2)
    assert cfg.prey_policy == "heuristic" and ENV.obs_dim == 16 and ENV.prey_obs_dim == 14


# ----------------------------------------------------------------------------- physics
def test_free_motion_step_matches_hand_computation():
    pos = _spread_out(ENV)
    vel = np.array([[0.3, -0.2], [0.0, 0.0], [0.5, 0.5], [1.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    state = _state(pos, vel)
    pred_actions, prey_actions = jnp.array([1, 4, 0]), jnp.array([2])
    nxt, _, _ = STEP_ALL(state, pred_actions, prey_actions)
    u = np.array([[-3.0, 0.0], [0.0, 3.0], [0.0, 0.0], [4.0, 0.0], [0, 0], [0, 0]])
    expected_pos = pos + vel * 0.1
    expected_vel = vel * 0.75 + u * 0.1
    expected_pos[4:], expected_vel[4:] = pos[4:], 0.0  # obstacles never move
    np.testing.assert_allclose(nxt.pos, expected_pos, atol=1e-5)
    np.testing.assert_allclose(nxt.vel, expected_vel, atol=1e-6)


def test_speed_is_clipped_to_max_speed():
    vel = np.zeros((ENV.num_entities, 2))
    vel[0] = [5.0, 0.0]  # predator, max speed 1.0
    vel[3] = [0.0, -9.0]  # prey, max speed 1.3
    state = _state(_spread_out(ENV), vel)
    nxt, _, _ = STEP_ALL(state, jnp.array([2, 0, 0]), jnp.array([3]))
    speed = np.linalg.norm(np.asarray(nxt.vel), axis=-1)
    np.testing.assert_allclose(speed[[0, 3]], [1.0, 1.3], rtol=1e-6)
    np.testing.assert_allclose(nxt.vel[0] / speed[0], [1.0, 0.0], atol=1e-6)  # direction kept


def test_continuous_one_hot_force_equals_discrete_force():
    accel = jnp.array([3.0, 3.0, 4.0, 4.0, 3.0])
    actions = jnp.arange(5)
    np.testing.assert_allclose(
        mpe_core.continuous_action_force(jax.nn.one_hot(actions, 5), accel),
        mpe_core.discrete_action_force(actions, accel),
    )


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(-0.3, 0.3), min_size=12, max_size=12))
def test_contact_forces_are_equal_and_opposite(coords):
    pos = jnp.asarray(np.reshape(coords, (6, 2)), jnp.float32)
    all_movable = ENV.props.replace(movable=jnp.ones(6, bool))
    force = CONTACT_FORCES(pos, all_movable)
    assert np.all(np.isfinite(np.asarray(force)))
    # Newton's third law: pair forces cancel when every entity is movable
    np.testing.assert_allclose(
        force.sum(axis=0), 0.0, atol=1e-2 + 1e-4 * float(jnp.abs(force).max())
    )
    # with the real properties, the fixed obstacles receive no force
    assert np.all(np.asarray(CONTACT_FORCES(pos, ENV.props))[4:] == 0.0)


def test_contact_force_pushes_overlapping_entities_apart():
    env = SimpleTag(num_predators=2, num_obstacles=1)  # predators 0, 1; prey 2; obstacle 3
    pos = np.array([[0.0, 0.0], [0.1, 0.0], [FAR, 0.0], [-0.25, 0.0]], np.float32)
    force = np.asarray(CONTACT_FORCES(jnp.asarray(pos), env.props))
    # predators (radius 0.075) overlap by 0.05: contact force c * penetration = 100 * 0.05
    np.testing.assert_allclose(force[1], [5.0, 0.0], rtol=1e-3)
    # predator 0 also touches the obstacle (radius 0.2) by 0.025 and is pushed right by both
    np.testing.assert_allclose(force[0], [-5.0 + 2.5, 0.0], rtol=1e-3)
    np.testing.assert_allclose(force[2:], 0.0)


# ----------------------------------------------------------------------------- rewards
@pytest.mark.parametrize(
    ("x", "penalty"),
    [(0.0, 0.0), (0.89, 0.0), (0.95, 0.5), (-0.99, 0.9), (1.0, 1.0), (1.5, np.e), (3.0, 10.0)],
)
def test_boundary_penalty_matches_mpe2_bound(x, penalty):
    np.testing.assert_allclose(boundary_penalty(jnp.array([x, 0.0])), penalty, rtol=1e-5)
    np.testing.assert_allclose(boundary_penalty(jnp.array([x, x])), 2 * penalty, rtol=1e-5)


@pytest.mark.parametrize("num_pred", [3, 4])
def test_each_predator_gets_ten_per_capture_anywhere_in_the_team(num_pred):
    env = SimpleTag(num_predators=num_pred, num_obstacles=0)
    pos = _spread_out(env)
    prey = num_pred
    pos[prey] = [0.95, 0.0]  # inside the boundary band: penalty 0.5
    pos[0] = [0.95 - 0.1, 0.0]  # touching (0.1 < 0.075 + 0.05)
    pos[1] = [0.95, 0.12]  # touching
    _, pred_rew, prey_rew = jax.jit(env.step_all)(
        _state(pos), jnp.zeros(num_pred, jnp.int32), jnp.zeros(1, jnp.int32)
    )
    np.testing.assert_allclose(pred_rew, np.full(num_pred, 20.0))
    np.testing.assert_allclose(prey_rew, [-20.0 - 0.5], rtol=1e-4)


def test_team_reward_is_the_sum_of_predator_rewards():
    pos = _spread_out(ENV)
    pos[3] = [0.0, 0.0]
    pos[0], pos[2] = [0.1, 0.0], [0.0, -0.1]
    _, state = ENV.reset(jax.random.key(0))
    state = state.replace(env=_state(pos, np.zeros_like(pos)))
    _, _, team_reward, _, info = STEP(jax.random.key(1), state, jnp.zeros(3, jnp.int32))
    assert float(team_reward) == pytest.approx(3 * 20.0)
    assert int(info["captures"]) == 2


# ----------------------------------------------------------------------------- observations
def test_observation_layout():
    env = ENV  # predators 0-2, prey 3, obstacles 4-5
    rng = np.random.default_rng(0)
    pos, vel = rng.normal(size=(6, 2)), rng.normal(size=(6, 2))
    vel[4:] = 0.0
    state = _state(pos, vel)
    obs = np.asarray(env.observe(state))
    for i in range(3):
        others = [j for j in range(4) if j != i]
        expected = np.concatenate(
            [vel[i], pos[i], (pos[4:] - pos[i]).ravel(), (pos[others] - pos[i]).ravel(), vel[3]]
        )
        np.testing.assert_allclose(obs[i], expected, atol=1e-6)
    prey_obs = np.asarray(env.prey_observations(state))[0]
    expected = np.concatenate(
        [vel[3], pos[3], (pos[4:] - pos[3]).ravel(), (pos[:3] - pos[3]).ravel()]
    )
    np.testing.assert_allclose(prey_obs, expected, atol=1e-6)
    np.testing.assert_allclose(
        env.global_state_of(state), np.concatenate([pos.ravel(), vel.ravel()]), atol=1e-6
    )


def test_reset_distribution():
    _, state = jax.jit(jax.vmap(ENV.reset))(jax.random.split(jax.random.key(3), 2000))
    pos = np.asarray(state.env.pos)
    assert np.all(np.abs(pos[:, :4]) <= 1.0) and np.all(np.abs(pos[:, 4:]) <= 0.9)
    assert np.abs(pos[:, :4]).max() > 0.99 and np.abs(pos[:, 4:]).max() > 0.89
    assert np.all(np.asarray(state.env.vel) == 0.0)
    assert abs(pos.mean()) < 0.02


# ----------------------------------------------------------------------------- prey policies
def test_frozen_prey_plays_no_op():
    _, state = ENV.reset(jax.random.key(0))
    for k in range(5):
        np.testing.assert_array_equal(FROZEN.prey_actions(jax.random.key(k), state.env), [0])


def test_random_prey_is_uniform_over_five_actions():
    env = SimpleTag(prey_policy="random")
    _, state = env.reset(jax.random.key(0))
    keys = jax.random.split(jax.random.key(1), 5000)
    actions = np.asarray(jax.jit(jax.vmap(env.prey_actions, in_axes=(0, None)))(keys, state.env))
    counts = np.bincount(actions.ravel(), minlength=5)
    chi2 = ((counts - 1000.0) ** 2 / 1000.0).sum()
    assert counts.size == 5 and chi2 < 18.47  # chi-square, 4 dof, p = 0.001


@pytest.mark.parametrize(
    ("predator_xy", "flee_action"),
    [((-0.3, 0.0), 2), ((0.3, 0.0), 1), ((0.0, 0.3), 3), ((0.0, -0.3), 4)],
)
def test_heuristic_prey_flees_the_nearest_predator(predator_xy, flee_action):
    env = SimpleTag(num_obstacles=0)
    pos = _spread_out(env)
    pos[3] = [0.0, 0.0]
    pos[1] = predator_xy  # nearest predator; the others are far away
    assert int(env.prey_actions(jax.random.key(0), _state(pos))[0]) == flee_action


def test_heuristic_prey_avoids_the_boundary_unless_configured_not_to():
    pos = np.zeros((4, 2))
    pos[:, 0] = [0.6, FAR, FAR + 5.0, 0.99]  # predator 0 left of the prey at the right edge
    pos[:, 1] = [0.0, FAR, FAR, 0.0]
    greedy = SimpleTag(num_obstacles=0, prey_avoids_boundary=False)
    careful = SimpleTag(num_obstacles=0)
    assert int(greedy.prey_actions(jax.random.key(0), _state(pos))[0]) == 2  # off the edge
    assert int(careful.prey_actions(jax.random.key(0), _state(pos))[0]) != 2


def _chase(key, obs, avail):
    """Default-size predator policy: step toward the prey, read from the observation layout.

    The prey's relative position is the last "other agent" entry, obs[12:14] for 3
    predators, 1 prey and 2 obstacles (4 own + 4 obstacle + 6 other-agent entries).
    """
    del key, avail
    d = obs[:, 12:14]
    horizontal = jnp.abs(d[:, 0]) > jnp.abs(d[:, 1])
    return jnp.where(horizontal, jnp.where(d[:, 0] > 0, 2, 1), jnp.where(d[:, 1] > 0, 4, 3)).astype(
        jnp.int32
    )


@functools.cache
def _chase_rollout(env):
    return marta.envs.rollout(env, _chase, jax.random.key(0), 64, 50)


def test_chase_policy_reads_the_prey_position():
    _, state = ENV.reset(jax.random.key(5))
    obs = ENV.observations(state)
    pos = np.asarray(state.env.pos)
    np.testing.assert_allclose(obs[:, 12:14], pos[3] - pos[:3], atol=1e-6)


def test_heuristic_prey_is_harder_to_catch_than_frozen_prey():
    frozen = marta.envs.episode_stats(_chase_rollout(FROZEN))["return_mean"]
    heuristic = marta.envs.episode_stats(_chase_rollout(ENV))["return_mean"]
    assert frozen > 2.0 * heuristic and frozen > 0


def test_pretrained_prey_missing_file_is_a_clear_error(tmp_path):
    missing = tmp_path / "prey.npz"
    with pytest.raises(FileNotFoundError, match="prey.npz"):
        SimpleTag(prey_policy="pretrained", prey_params_path=str(missing))
    SimpleTag(prey_policy="pretrained")  # the shipped file (tests/test_simple_tag_prey.py)


def test_pretrained_prey_runs_the_mlp_greedily(tmp_path):
    env = SimpleTag()
    rng = np.random.default_rng(0)
    w0, b0 = rng.normal(size=(env.prey_obs_dim, 8)), rng.normal(size=8)
    w1, b1 = rng.normal(size=(8, 5)), rng.normal(size=5)
    path = tmp_path / "prey.npz"
    np.savez(path, w0=w0, b0=b0, w1=w1, b1=b1)
    env = SimpleTag(prey_policy="pretrained", prey_params_path=str(path))
    _, states = jax.jit(jax.vmap(env.reset))(jax.random.split(jax.random.key(0), 64))
    actions = np.asarray(
        jax.jit(jax.vmap(env.prey_actions))(jax.random.split(jax.random.key(1), 64), states.env)
    )
    obs = np.asarray(jax.jit(jax.vmap(env.prey_observations))(states.env))
    expected = np.argmax(np.maximum(obs @ w0 + b0, 0.0) @ w1 + b1, axis=-1)
    np.testing.assert_array_equal(actions, expected)
    assert len(np.unique(actions)) > 1
    np.savez(path, w0=w0[:-1], b0=b0, w1=w1, b1=b1)
    with pytest.raises(ValueError, match="layer 0"):
        SimpleTag(prey_policy="pretrained", prey_params_path=str(path))


# ----------------------------------------------------------------------------- jax transforms
def test_rollout_truncates_every_25_steps_under_jit_vmap_scan():
    out = _chase_rollout(ENV)
    done = np.asarray(out.done)
    assert done.shape == (50, 64)
    np.testing.assert_array_equal(np.nonzero(done[:, 0])[0], [24, 49])
    assert done[[24, 49]].all() and done.sum() == 2 * 64
    np.testing.assert_array_equal(np.asarray(out.episode_length)[done], 25)
    assert np.all(np.isfinite(np.asarray(out.obs)))


def test_step_info_and_vmap_equals_loop():
    keys = jax.random.split(jax.random.key(0), 4)
    obs, state = jax.vmap(ENV.reset)(keys)
    actions = jnp.array([[0, 1, 2], [3, 4, 0], [1, 1, 1], [2, 3, 4]])
    batched = jax.jit(jax.vmap(STEP))(keys, state, actions)
    for b in range(4):
        single = STEP(keys[b], jax.tree.map(operator.itemgetter(b), state), actions[b])
        np.testing.assert_allclose(batched[0][b], single[0], atol=1e-6)
        np.testing.assert_allclose(batched[2][b], single[2])
    info = batched[4]
    assert not np.asarray(info["terminated"]).any() and not np.asarray(info["truncated"]).any()
    assert info["prey_actions"].shape == (4, 1) and info["prey_reward"].shape == (4, 1)


def test_step_does_not_recompile():
    step = jax.jit(ENV.step)
    obs, state = ENV.reset(jax.random.key(0))
    actions = jnp.zeros(3, jnp.int32)
    obs, state, *_ = step(jax.random.key(1), state, actions)
    size = step._cache_size()
    for k in range(3):
        obs, state, *_ = step(jax.random.key(k), state, actions + k)
    assert step._cache_size() == size == 1


# ----------------------------------------------------------------------------- config
@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"num_predators": 0}, "num_predators"),
        ({"num_prey": 0}, "num_prey"),
        ({"num_obstacles": -1}, "num_obstacles"),
        ({"num_predators": 2.0}, "num_predators"),
        ({"max_steps": 0}, "max_steps"),
        ({"max_steps": True}, "max_steps"),
    ],
)
def test_bad_config_names_the_field(overrides, field):
    with pytest.raises(ValueError, match=field):
        marta.envs.make("mpe-simple-tag", **overrides)


def test_unknown_prey_policy_lists_the_valid_ones():
    with pytest.raises(ValueError, match="prey_policy") as err:
        SimpleTag(prey_policy="smart")
    for name in PREY_POLICIES:
        assert name in str(err.value)


def test_unknown_override_is_rejected():
    with pytest.raises(ValueError, match="num_adversaries"):
        marta.envs.make("mpe-simple-tag", num_adversaries=3)


def test_out_of_range_actions_are_the_no_op():
    _, state = ENV.reset(jax.random.key(0))
    prey = jnp.zeros((1,), jnp.int32)
    noop = ENV.step_all(state.env, jnp.array([0, 0, 2]), prey)
    for bad in ([5, -1, 2], [7, 100, 2]):
        got = ENV.step_all(state.env, jnp.array(bad), prey)
        jax.tree.map(np.testing.assert_array_equal, got, noop)
