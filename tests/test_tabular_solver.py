"""The exact solver: Theorem 1 (contraction, fixed point), Proposition 1 (fixed team policy),
Proposition 2 (switching rule), Theorem 4 (budget), and the cost limits. Reference values come
from plain loops written here independently of the vectorised operator."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marta.tabular import (
    bellman,
    evaluate_policy,
    make_game,
    random_game,
    simulate,
    solve,
)

GAMMAS = (0.0, 0.5, 0.9, 0.97)


def _game(seed: int):
    """A small random game whose sizes also depend on the seed (N in 1..3, A_i in 1..3)."""
    rng = np.random.default_rng(seed)
    shape = tuple(int(a) for a in rng.integers(1, 4, size=int(rng.integers(1, 4))))
    conc = float(rng.choice([0.1, 1.0]))
    gamma = float(rng.choice(GAMMAS))
    return random_game(rng, int(rng.integers(1, 6)), shape, gamma=gamma, concentration=conc)


def _random_policy(rng, game):
    return [rng.dirichlet(np.ones(n), size=game.num_states) for n in game.action_shape]


# ----------------------------------------------------------------- loop references
def _joint(game):
    return list(itertools.product(*[range(n) for n in game.action_shape]))


def _q_loop(game, v):
    return {
        (s, a): game.R[(s, *a)] + game.gamma * sum(game.P[(s, *a)] * v)
        for s in range(game.num_states)
        for a in _joint(game)
    }


def _t_loop(game, v, cost, v_fault_source=None):
    """Theorem 1's T written with explicit loops over agents and actions."""
    q = _q_loop(game, v)
    qf = q if v_fault_source is None else _q_loop(game, v_fault_source)
    out = np.empty(game.num_states)
    for s in range(game.num_states):
        nominal = max(q[s, a] for a in _joint(game))
        fault = min(
            max(qf[s, a] for a in _joint(game) if a[i] == ai)
            for i in range(game.num_agents)
            for ai in range(game.action_shape[i])
        )
        out[s] = min(nominal, cost + fault)
    return out


def _plain_value_iteration(game, sweeps=200):
    """No-fault optimum: V = max_a (R + gamma P V)."""
    v = np.zeros(game.num_states)
    for _ in range(sweeps):
        q = game.R + game.gamma * np.tensordot(game.P, v, axes=([-1], [0]))
        v = q.reshape(game.num_states, -1).max(-1)
    return v


def _robust_value_iteration(game, sweeps=200):
    """Robust max-min value: a fault at every step, V = min_i min_{a_i} max_{a_-i} Q."""
    v = np.zeros(game.num_states)
    for _ in range(sweeps):
        v = _t_loop(game, v, 0.0)
    return v


# ----------------------------------------------------------------- Theorem 1: contraction
@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    cost=st.sampled_from([0.0, 0.05, 0.5, 3.0, np.inf]),
    budget=st.sampled_from([None, 0, 1, 3]),
    fixed_policy=st.booleans(),
    scale=st.sampled_from([1.0, 100.0]),
)
def test_operator_is_gamma_contraction_in_sup_norm(seed, cost, budget, fixed_policy, scale):
    game = _game(seed)
    rng = np.random.default_rng(seed + 1)
    shape = (game.num_states,) if budget is None else (budget + 1, game.num_states)
    policy = _random_policy(rng, game) if fixed_policy else None
    for _ in range(5):
        v, u = scale * rng.normal(size=shape), scale * rng.normal(size=shape)
        tv = bellman(game, v, cost, budget, policy)
        tu = bellman(game, u, cost, budget, policy)
        assert tv.shape == shape
        assert np.max(np.abs(tv - tu)) <= game.gamma * np.max(np.abs(v - u)) * (1 + 1e-12) + 1e-12


@pytest.mark.parametrize("seed", range(6))
def test_vectorised_operator_matches_loop_reference(seed):
    game = _game(100 + seed)
    v = np.random.default_rng(seed).normal(size=game.num_states)
    for cost in (0.0, 0.2):
        assert np.allclose(bellman(game, v, cost), _t_loop(game, v, cost), atol=1e-12)
    # budget: level y's fault branch reads level y - 1; level 0 has none
    w = np.random.default_rng(seed + 50).normal(size=(3, game.num_states))
    tw = bellman(game, w, 0.2, budget=2)
    assert np.allclose(tw[0], _t_loop(game, w[0], np.inf), atol=1e-12)
    for y in (1, 2):
        assert np.allclose(tw[y], _t_loop(game, w[y], 0.2, v_fault_source=w[y - 1]), atol=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_value_iteration_reaches_the_same_fixed_point_from_any_start(seed):
    game = random_game(seed, 5, 2, 3, gamma=0.9)
    rng = np.random.default_rng(seed)
    base = solve(game, 0.1, tol=1e-11)
    for _ in range(3):
        other = solve(game, 0.1, tol=1e-11, v0=rng.normal(scale=100.0, size=game.num_states))
        assert np.max(np.abs(other.v - base.v)) <= 2e-11
    assert np.max(np.abs(bellman(game, base.v, 0.1) - base.v)) <= 1e-11
    budgeted = solve(game, 0.1, budget=2, v0=rng.normal(scale=50.0, size=(3, 5)))
    assert np.allclose(budgeted.v, solve(game, 0.1, budget=2).v, atol=1e-9)


# ----------------------------------------------------------------- Proposition 2 / consistency
@pytest.mark.parametrize("seed", range(8))
def test_switching_rule_and_solved_policies_attain_the_game_value(seed):
    game = _game(200 + seed)
    for cost in (0.0, 0.1, 1.0):
        sol = solve(game, cost)
        # Proposition 2: activate iff the fault branch beats the no-fault branch
        assert np.array_equal(sol.activates, sol.fault < sol.nominal - 1e-9)
        assert np.allclose(sol.v, np.minimum(sol.nominal, sol.fault))
        # the executed policies (Switcher, Adversary, team) achieve v exactly:
        # v = E[sum gamma^t (r_t + c * activation_t)]
        assert np.allclose(sol.v, sol.team_value + cost * sol.expected_activations, atol=1e-8)
        acted = np.flatnonzero(sol.activates)
        agents = sol.switcher_action[acted] - 1
        q_flat = sol.q.reshape(game.num_states, -1)
        executed = game.joint_index(sol.executed_action)
        assert np.allclose(cost + q_flat[acted, executed[acted]], sol.fault[acted])
        assert np.all(sol.fault_response[agents, acted, agents] == sol.fault_action[agents, acted])


# ----------------------------------------------------------------- cost limits and monotonicity
@pytest.mark.parametrize("seed", range(10))
def test_activation_set_shrinks_as_cost_grows(seed):
    game = _game(300 + seed)
    costs = np.concatenate([[0.0], np.geomspace(1e-3, 30.0, 15)])
    previous = None
    for cost in costs:
        act = solve(game, float(cost)).activates
        if previous is not None:
            assert act.sum() <= previous.sum()
            assert not np.any(act & ~previous)  # observed: the sets are even nested
        previous = act
    reward_range = np.ptp(game.R) / (1 - game.gamma)
    assert not solve(game, reward_range + 1.0).activates.any()


@pytest.mark.parametrize("seed", range(6))
def test_large_cost_gives_no_fault_optimum_and_zero_cost_the_robust_value(seed):
    game = random_game(400 + seed, 3, 2, 2, gamma=0.8)  # 0.8**200 ~ 4e-20: references exact
    plain = _plain_value_iteration(game)
    for cost in (np.inf, 1e6):
        sol = solve(game, cost)
        assert np.allclose(sol.v, plain, atol=1e-8)
        assert np.allclose(sol.team_value, plain, atol=1e-8)
        assert not sol.activates.any()
    robust = solve(game, 0.0)
    assert np.allclose(robust.v, _robust_value_iteration(game), atol=1e-8)
    assert np.allclose(robust.v, robust.team_value, atol=1e-8)  # no cost: v is the team's return
    assert np.all(robust.v <= plain + 1e-9)


# ----------------------------------------------------------------- Theorem 4: budget
@pytest.mark.parametrize("seed", range(6))
def test_budget_value_monotone_budget_zero_is_no_fault_and_levels_are_shared(seed):
    game = _game(500 + seed)
    for cost in (0.0, 0.2):
        sol = solve(game, cost, budget=4)
        assert sol.v.shape == (5, game.num_states) and sol.q.shape[0] == 5
        assert np.all(np.diff(sol.v, axis=0) <= 1e-9)  # more budget never helps the team
        assert not sol.activates[0].any()
        assert np.allclose(sol.v[0], solve(game, np.inf).v, atol=1e-8)
        assert np.allclose(solve(game, cost, budget=0).v[0], sol.v[0], atol=1e-8)
        assert np.allclose(solve(game, cost, budget=2).v, sol.v[:3], atol=1e-8)
        unlimited = solve(game, cost).v
        assert np.all(sol.v[-1] >= unlimited - 1e-8)
        span = (np.ptp(game.R) + cost) / (1 - game.gamma)
        assert np.all(sol.v[-1] - unlimited <= game.gamma**4 * span + 1e-8)
        if cost == 0.0:
            assert np.all(np.diff(sol.team_value, axis=0) <= 1e-8)


@pytest.mark.parametrize("name", ["critical-state", "coordination", "corridor"])
def test_simulated_episodes_never_exceed_the_budget_and_match_exact_returns(name):
    game = make_game(name)
    for budget in (0, 1, 3):
        sol = solve(game, 0.0, budget=budget)
        eps = simulate(0, game, sol, num_episodes=400, horizon=120, start_state=0)
        assert np.all(eps.activations <= budget) and np.all(eps.budget_left >= 0)
        assert np.array_equal(eps.activations + eps.budget_left, np.full(400, budget))
        if budget and sol.activates[budget, 0]:
            assert eps.activations.max() >= 1
        stderr = eps.discounted_return.std() / np.sqrt(400) + 1e-3
        truncation = game.gamma**120 * np.abs(game.R).max() / (1 - game.gamma)
        assert abs(eps.discounted_return.mean() - sol.team_value[budget, 0]) <= (
            4 * stderr + truncation
        )


# ----------------------------------------------------------------- Proposition 1
@pytest.mark.parametrize("seed", range(6))
def test_fixed_team_policy_against_optimal_switcher(seed):
    game = _game(600 + seed)
    rng = np.random.default_rng(seed)
    policy = _random_policy(rng, game)
    # cost = inf: plain policy evaluation V = (I - gamma P_pi)^-1 R_pi
    joint = np.ones((game.num_states,) + (1,) * game.num_agents)
    for i, p in enumerate(policy):
        shape = [game.num_states] + [1] * game.num_agents
        shape[1 + i] = p.shape[1]
        joint = joint * p.reshape(shape)
    joint = joint.reshape(game.num_states, -1)
    r_pi = (joint * game.reward_flat).sum(-1)
    p_pi = np.einsum("sa,sat->st", joint, game.transition_flat)
    v_pi = np.linalg.solve(np.eye(game.num_states) - game.gamma * p_pi, r_pi)
    assert np.allclose(evaluate_policy(game, policy, np.inf).v, v_pi, atol=1e-8)
    for cost in (0.0, 0.3):
        fixed = evaluate_policy(game, policy, cost)
        # a fixed policy cannot do better than the team that best-responds (Theorem 1)
        assert np.all(fixed.v <= solve(game, cost).v + 1e-8)
        assert np.all(fixed.v <= v_pi + 1e-8)
        assert np.allclose(fixed.v, fixed.team_value + cost * fixed.expected_activations)
        assert np.all(fixed.team_action == -1) or game.num_joint_actions == 1


def test_fixed_policy_differs_from_best_response_in_coordination_game():
    game = make_game("coordination")
    greedy = solve(game, np.inf).team_action  # deterministic int[S, N]
    fixed = evaluate_policy(game, greedy, 0.1)
    best = solve(game, 0.1)
    assert np.all(fixed.v < best.v - 1.0)
    assert np.array_equal(fixed.team_action, greedy)
    assert fixed.executed_action[0].tolist() != [0, 0]  # the fault desynchronises the team


# ----------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "kwargs, arg",
    [
        ({"cost": -0.1}, "cost"),
        ({"cost": float("nan")}, "cost"),
        ({"cost": "1"}, "cost"),
        ({"cost": 0.1, "budget": -1}, "budget"),
        ({"cost": 0.1, "budget": 1.5}, "budget"),
        ({"cost": 0.1, "tol": 0.0}, "tol"),
        ({"cost": 0.1, "max_iters": 0}, "max_iters"),
        ({"cost": 0.1, "v0": np.zeros(7)}, "v0"),
    ],
)
def test_bad_solver_arguments_name_the_argument(kwargs, arg):
    game = random_game(0, 3, 2, 2)
    with pytest.raises(ValueError, match=f"^{arg}:"):
        solve(game, **kwargs)


def test_bad_policy_and_non_convergence():
    game = random_game(0, 3, 2, 2, gamma=0.99)
    with pytest.raises(ValueError, match="^policy:"):
        evaluate_policy(game, [np.full((3, 2), 0.7), np.full((3, 2), 0.5)], 0.1)
    with pytest.raises(ValueError, match="^policy:"):
        evaluate_policy(game, np.zeros((3, 3), dtype=int), 0.1)
    with pytest.raises(RuntimeError, match="max_iters"):
        solve(game, 0.1, max_iters=3)
