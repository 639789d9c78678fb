"""Parity of marta's Simple-Tag with the reference `mpe2.simple_tag_v3` (discrete actions).

Three checks:

* whole episodes, float64: the reference's initial positions/velocities are copied into our
  state once per episode, then both environments run free with identical actions for all
  25 steps; every observation (predators and prey) and every agent's reward must agree to
  1e-5. float64 (`jax.enable_x64`) because the stiff contact forces (100 N per unit of
  overlap, dt 0.1) amplify float32 round-off ~10x per step of deep contact;
* single steps, float32 (the default dtype): the reference state is copied in before every
  step, so each transition of the production dtype is checked to 1e-5;
* statistics: the returns of random predators against a random prey, from our `env.step`
  (own reset distribution, own prey policy) and from the reference, agree statistically.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from mpe2 import simple_tag_v3

import marta.envs
from marta.envs.simple_tag import SimpleTag, SimpleTagState

NUM_PRED, NUM_PREY, NUM_OBST = 3, 1, 2


def _reference(**kwargs):
    env = simple_tag_v3.parallel_env(continuous_actions=False, max_cycles=25, **kwargs)
    return env, env.unwrapped.world


def _load(world, dtype) -> SimpleTagState:
    """Copies the reference entities' positions and velocities into our state."""
    pos = np.array([e.state.p_pos for e in world.entities], dtype)
    vel = np.array([e.state.p_vel for e in world.entities], dtype)
    return SimpleTagState(pos=jnp.asarray(pos), vel=jnp.asarray(vel))


def _chase_actions(world, rng, num_pred):
    """Predators mostly step toward the prey (to make captures and contacts), else random."""
    prey = world.agents[num_pred].state.p_pos
    actions = rng.integers(0, 5, len(world.agents))
    for i in range(num_pred):
        d = prey - world.agents[i].state.p_pos
        toward = (2 if d[0] > 0 else 1) if abs(d[0]) > abs(d[1]) else (4 if d[1] > 0 else 3)
        if rng.random() < 0.8:
            actions[i] = toward
    return actions


def _run_parity(env, ref, world, episodes, dtype, resync, seed):
    """Steps both environments with identical actions; returns (obs err, reward err, #caps)."""
    step = jax.jit(env.step_all)
    observe = jax.jit(lambda s: (env.observe(s), env.prey_observations(s)))
    names = ref.possible_agents
    pred_names, prey_names = names[: env.num_predators], names[env.num_predators :]
    rng = np.random.default_rng(seed)
    obs_err = rew_err = 0.0
    captures = 0
    for episode in range(episodes):
        ref.reset(seed=seed + episode)
        state = _load(world, dtype)
        for _ in range(env.max_steps):
            if resync:
                state = _load(world, dtype)
            chase = episode % 2 == 0
            actions = (
                _chase_actions(world, rng, env.num_predators)
                if chase
                else rng.integers(0, 5, len(names))
            )
            ref_obs, ref_rew, *_ = ref.step({a: int(actions[i]) for i, a in enumerate(names)})
            state, pred_rew, prey_rew = step(
                state,
                jnp.asarray(actions[: env.num_predators]),
                jnp.asarray(actions[env.num_predators :]),
            )
            pred_obs, prey_obs = observe(state)
            expected_obs = np.concatenate([ref_obs[a] for a in pred_names + prey_names])
            got_obs = np.concatenate([np.ravel(pred_obs), np.ravel(prey_obs)])
            expected_rew = np.array([ref_rew[a] for a in pred_names + prey_names])
            got_rew = np.concatenate([np.asarray(pred_rew), np.asarray(prey_rew)])
            obs_err = max(obs_err, float(np.abs(got_obs - expected_obs).max()))
            rew_err = max(rew_err, float(np.abs(got_rew - expected_rew).max()))
            captures += int(expected_rew[0] > 0)
    return obs_err, rew_err, captures


@pytest.mark.parametrize(
    "sizes",
    [(NUM_PRED, NUM_PREY, NUM_OBST), (4, 2, 3)],
    ids=["3pred-1prey-2obst", "4pred-2prey-3obst"],
)
def test_whole_episodes_match_reference_float64(sizes):
    num_pred, num_prey, num_obst = sizes
    ref, world = _reference(num_adversaries=num_pred, num_good=num_prey, num_obstacles=num_obst)
    with jax.enable_x64(True):
        env = SimpleTag(num_predators=num_pred, num_prey=num_prey, num_obstacles=num_obst)
        obs_err, rew_err, captures = _run_parity(
            env, ref, world, episodes=40, dtype=np.float64, resync=False, seed=100
        )
    assert obs_err < 1e-5, obs_err
    assert rew_err < 1e-5, rew_err
    assert captures >= 20, "too few capture steps to test the reward"


def test_single_steps_match_reference_float32():
    ref, world = _reference()
    env = marta.envs.make("mpe-simple-tag")
    obs_err, rew_err, captures = _run_parity(
        env, ref, world, episodes=30, dtype=np.float32, resync=True, seed=7
    )
    assert obs_err < 1e-5, obs_err
    assert rew_err < 1e-5, rew_err
    assert captures >= 20, "too few capture steps to test the reward"


def _reference_random_returns(episodes: int, seed: int):
    ref, _ = _reference()
    rng = np.random.default_rng(seed)
    team, prey = np.zeros(episodes), np.zeros(episodes)
    for episode in range(episodes):
        ref.reset(seed=seed + episode)
        for _ in range(25):
            actions = rng.integers(0, 5, len(ref.possible_agents))
            _, rew, *_ = ref.step({a: int(actions[i]) for i, a in enumerate(ref.possible_agents)})
            team[episode] += sum(rew[f"adversary_{i}"] for i in range(NUM_PRED))
            prey[episode] += rew["agent_0"]
    return team, prey


def _our_random_returns(episodes: int, seed: int):
    env = marta.envs.make("mpe-simple-tag", prey_policy="random")

    @jax.jit
    def run(key):
        def episode(key):
            key_reset, key_run = jax.random.split(key)
            obs, state = env.reset(key_reset)

            def one_step(state, key_t):
                key_act, key_env = jax.random.split(key_t)
                avail = env.avail_actions(state)
                actions = marta.envs.random_policy(key_act, obs, avail)
                _, state, reward, _, info = env.step(key_env, state, actions)
                return state, (reward, info["prey_reward"].sum())

            _, (team, prey) = jax.lax.scan(
                one_step, state, jax.random.split(key_run, env.max_steps)
            )
            return team.sum(), prey.sum()

        return jax.vmap(episode)(jax.random.split(key, episodes))

    team, prey = run(jax.random.key(seed))
    return np.asarray(team, np.float64), np.asarray(prey, np.float64)


# chi-square critical value for 3 degrees of freedom at p = 0.001 (a constant of the law)
CHI2_3DOF_P001 = 16.27


def test_random_policy_returns_match_reference_statistically():
    ref_team, ref_prey = _reference_random_returns(episodes=400, seed=1234)
    our_team, our_prey = _our_random_returns(episodes=20_000, seed=1234)

    # team returns are multiples of 30 (3 predators x +10 per capture): compare the
    # distribution over {0, 30, 60, >= 90} with a two-sample chi-square test
    bins = [-1, 15, 45, 75, np.inf]
    ref_counts = np.histogram(ref_team, bins)[0].astype(float)
    our_counts = np.histogram(our_team, bins)[0].astype(float)
    assert np.allclose(our_team % 30.0, 0.0)
    n_ref, n_our = ref_counts.sum(), our_counts.sum()
    k1, k2 = np.sqrt(n_our / n_ref), np.sqrt(n_ref / n_our)
    chi2 = np.sum((k1 * ref_counts - k2 * our_counts) ** 2 / (ref_counts + our_counts))
    assert chi2 < CHI2_3DOF_P001, (chi2, ref_counts, our_counts)

    # means of team and prey returns (prey: capture and boundary penalties), z < 4
    for ours, theirs in ((our_team, ref_team), (our_prey, ref_prey)):
        se = np.sqrt(ours.var() / ours.size + theirs.var() / theirs.size)
        assert abs(ours.mean() - theirs.mean()) < 4 * se, (ours.mean(), theirs.mean(), se)
    assert ref_team.mean() > 0 and our_team.mean() > 0  # captures do happen
