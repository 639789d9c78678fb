"""Persistent faults in the tabular fault game (Algorithms 1-2, lines 7-8): a malfunction runs on
until a Bernoulli(terminate_p) termination after each faulty step. The operator on the state
augmented with the running fault is checked against loops written here, against independent
fixed points, against the one-step game it generalises, against Monte-Carlo rollouts, and
MARTA-Q must learn it from samples."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_tabular_solver import _game, _joint, _q_loop, _random_policy

from marta.cli import main
from marta.tabular import (
    MartaQConfig,
    bellman,
    evaluate_policy,
    make_game,
    marta_q,
    random_game,
    simulate,
    solve,
)
from marta.tabular.marta_q import _behaviour
from marta.tabular.operators import apply_contexts


def _persistent_t_loop(game, v, cost, terminate_p, v_fault_source=None):
    """The operator with a running-fault context, written with explicit loops.

    ``v`` is ``[1 + N, S]``: row 0 = no fault running, row ``1 + i`` = agent ``i``'s fault
    running. ``v_fault_source`` (a budget's level below) is what an activation continues in."""
    src = v if v_fault_source is None else v_fault_source
    n = game.num_agents

    def fault_minmax(values, i, s):  # agent i faulty for one step, then ends or runs on
        cont = terminate_p * values[0] + (1 - terminate_p) * values[1 + i]
        q = _q_loop(game, cont)
        return min(
            max(q[s, a] for a in _joint(game) if a[i] == ai) for ai in range(game.action_shape[i])
        )

    q_free = _q_loop(game, v[0])
    out = np.empty_like(v)
    for s in range(game.num_states):
        nominal = max(q_free[s, a] for a in _joint(game))
        out[0, s] = min(nominal, cost + min(fault_minmax(src, i, s) for i in range(n)))
        for i in range(n):
            out[1 + i, s] = cost + fault_minmax(v, i, s)
    return out


# ----------------------------------------------------------------- the operator
@pytest.mark.parametrize("seed", range(6))
def test_persistent_operator_matches_loop_reference(seed):
    game = _game(700 + seed)
    rng = np.random.default_rng(seed)
    k = 1 + game.num_agents
    for cost, q in ((0.0, 0.3), (0.2, 0.0), (0.2, 0.7)):
        v = rng.normal(size=(k, game.num_states))
        assert np.allclose(
            bellman(game, v, cost, terminate_p=q), _persistent_t_loop(game, v, cost, q), atol=1e-12
        )
    # with a budget an activation at level y continues at level y - 1; a running fault stays
    w = rng.normal(size=(3, k, game.num_states))
    tw = bellman(game, w, 0.2, budget=2, terminate_p=0.4)
    for y in (1, 2):
        assert np.allclose(
            tw[y], _persistent_t_loop(game, w[y], 0.2, 0.4, v_fault_source=w[y - 1]), atol=1e-12
        )
    assert np.allclose(tw[0, 1:], _persistent_t_loop(game, w[0], 0.2, 0.4)[1:], atol=1e-12)
    assert np.allclose(tw[0, 0], bellman(game, w[0, 0], np.inf), atol=1e-12)  # no activation


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    cost=st.sampled_from([0.0, 0.05, 0.5]),
    budget=st.sampled_from([None, 0, 2]),
    terminate_p=st.sampled_from([0.0, 0.25, 0.9]),
    fixed_policy=st.booleans(),
)
def test_persistent_operator_is_gamma_contraction(seed, cost, budget, terminate_p, fixed_policy):
    game = _game(seed)
    rng = np.random.default_rng(seed + 1)
    shape = (1 + game.num_agents, game.num_states)
    shape = shape if budget is None else (budget + 1, *shape)
    policy = _random_policy(rng, game) if fixed_policy else None
    for _ in range(4):
        v, u = 10 * rng.normal(size=shape), 10 * rng.normal(size=shape)
        tv = bellman(game, v, cost, budget, policy, terminate_p)
        tu = bellman(game, u, cost, budget, policy, terminate_p)
        assert tv.shape == shape
        assert np.max(np.abs(tv - tu)) <= game.gamma * np.max(np.abs(v - u)) * (1 + 1e-12) + 1e-12


def test_operator_needs_the_context_axis_for_persistent_faults():
    game = random_game(0, 3, 2, 2)
    with pytest.raises(ValueError, match="^v: persistent faults need a context axis"):
        bellman(game, np.zeros(3), 0.1, terminate_p=0.5)
    assert bellman(game, np.zeros(3), np.inf, terminate_p=0.5).shape == (3,)  # no fault starts


# ----------------------------------------------------------------- the solution
@pytest.mark.parametrize("seed", range(6))
def test_the_one_step_game_is_the_limit_terminate_p_to_one(seed):
    """The context axis (K = 1 + N) at terminate_p just below 1 reproduces the one-step solver
    (K = 1), whose every fault_q is q and whose faulty steps are its activations."""
    game = _game(800 + seed)
    for budget in (None, 2):
        one_step = solve(game, 0.1, budget)
        near = solve(game, 0.1, budget, terminate_p=1 - 1e-9)
        for name in ("v", "q", "fault_q", "team_value", "expected_faulty_steps", "running_value"):
            assert np.allclose(getattr(near, name), getattr(one_step, name), atol=1e-6), name
        assert np.array_equal(one_step.expected_faulty_steps, one_step.expected_activations)
        q = one_step.q if budget is None else one_step.q[:, None]
        assert np.array_equal(one_step.fault_q, np.broadcast_to(q, one_step.fault_q.shape))


@pytest.mark.parametrize("seed", range(8))
def test_persistent_solution_attains_its_value_and_running_faults_are_consistent(seed):
    game = _game(900 + seed)
    for cost, q in ((0.0, 0.3), (0.1, 0.0), (0.1, 0.6), (0.1, 1.0)):
        sol = solve(game, cost, terminate_p=q)
        assert np.array_equal(sol.activates, sol.fault < sol.nominal - 1e-9)  # Proposition 2
        assert np.allclose(sol.v, np.minimum(sol.nominal, sol.fault))
        # the executed policies achieve v: every faulty step costs c (Algorithm 1, line 10)
        assert np.allclose(sol.v, sol.team_value + cost * sol.expected_faulty_steps, atol=1e-8)
        assert np.all(sol.expected_faulty_steps >= sol.expected_activations - 1e-12)
        # an activation of agent i is the first step of a running fault on i
        acted = np.flatnonzero(sol.activates)
        agents = sol.switcher_action[acted] - 1
        assert np.allclose(sol.fault[acted], sol.running_value[agents, acted])
        assert np.array_equal(sol.fault_action, sol.running_action)
        # a running fault's value is what its executed joint action earns in Q_{1+i}
        for i in range(game.num_agents):
            q_i = sol.fault_q[i].reshape(game.num_states, -1)
            executed = game.joint_index(sol.running_response[i])
            picked = q_i[np.arange(game.num_states), executed]
            assert np.allclose(cost + picked, sol.running_value[i])
            assert np.all(sol.running_response[i, :, i] == sol.running_action[i])


@pytest.mark.parametrize("seed", range(8))
def test_persistence_never_helps_the_switcher_without_a_budget(seed):
    """A persistent Switcher is a one-step Switcher whose later choices are forced, so the
    one-step game's value is a lower bound (the one-step value is the game's value against
    every history-dependent Switcher, and the team plays second at every step in both)."""
    game = _game(1000 + seed)
    for cost in (0.0, 0.1, 1.0):
        one_step = solve(game, cost).v
        for q in (0.0, 0.3, 0.8):
            assert np.all(solve(game, cost, terminate_p=q).v >= one_step - 1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_activation_sets_shrink_as_cost_grows_and_as_faults_persist_longer(seed):
    """Observed, not proven (docs/theory.md, section 4): the activation sets are nested in c
    for every terminate_p, and they shrink as faults last longer (terminate_p falls)."""

    def nested(sets):  # each set inside the one before
        return all(not np.any(b & ~a) for a, b in zip(sets[:-1], sets[1:], strict=True))

    game = _game(1300 + seed)
    costs = np.concatenate([[0.0], np.geomspace(1e-3, 30.0, 8)])
    for q in (0.0, 0.3, 0.7):
        sets = [solve(game, float(c), terminate_p=q).activates for c in costs]
        assert nested(sets)
    for cost in (0.05, 0.3):
        sets = [solve(game, cost, terminate_p=q).activates for q in (1.0, 0.7, 0.3, 0.0)]
        assert nested(sets)


def test_with_a_budget_persistence_buys_more_faults_per_unit():
    game = make_game("coordination")
    one_step = solve(game, 0.0, budget=1)
    persistent = solve(game, 0.0, budget=1, terminate_p=0.2)
    assert np.all(persistent.v[1] < one_step.v[1] - 1.0)  # one activation, five faulty steps
    assert np.allclose(persistent.v[0], one_step.v[0])  # no budget left: the no-fault optimum


@pytest.mark.parametrize("seed", range(5))
def test_permanent_faults_give_each_agents_robust_value(seed):
    """terminate_p = 0: a fault never ends, so a running fault on agent i has the robust
    value of the game in which agent i is adversarial forever, computed here by plain value
    iteration; with c = 0 the free states take the better of no fault and the worst agent."""
    game = random_game(1100 + seed, 4, 2, 2, gamma=0.8)
    sol = solve(game, 0.0, terminate_p=0.0)
    for i in range(game.num_agents):
        u = np.zeros(game.num_states)
        for _ in range(300):
            q = game.R + game.gamma * np.tensordot(game.P, u, axes=([-1], [0]))
            q = np.moveaxis(q, 1 + i, -1).reshape(game.num_states, -1, game.action_shape[i])
            u = q.max(1).min(-1)
        assert np.allclose(sol.running_value[i], u, atol=1e-8)
    plain = solve(game, np.inf).v
    assert np.all(sol.v <= plain + 1e-9)
    assert np.all(sol.v <= sol.running_value.min(0) + 1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_fixed_team_policy_against_the_persistent_switcher(seed):
    game = _game(1200 + seed)
    policy = _random_policy(np.random.default_rng(seed), game)
    for cost in (0.0, 0.3):
        fixed = evaluate_policy(game, policy, cost, terminate_p=0.4)
        assert np.all(fixed.v <= solve(game, cost, terminate_p=0.4).v + 1e-8)  # Proposition 1
        assert np.allclose(fixed.v, fixed.team_value + cost * fixed.expected_faulty_steps)


@pytest.mark.parametrize("name", ["critical-state", "coordination", "corridor"])
def test_simulated_persistent_faults_match_exact_values_and_respect_the_budget(name):
    game = make_game(name)
    for budget in (None, 1, 3):
        sol = solve(game, 0.05, budget, terminate_p=0.3)
        eps = simulate(0, game, sol, num_episodes=1000, horizon=150, start_state=0)
        at = (lambda x: x[0]) if budget is None else (lambda x, b=budget: x[b, 0])
        truncation = game.gamma**150 / (1 - game.gamma)
        for sampled, exact, scale in (
            (eps.discounted_return, at(sol.team_value), np.abs(game.R).max()),
            (eps.discounted_faulty_steps, at(sol.expected_faulty_steps), 1.0),
        ):
            stderr = sampled.std() / np.sqrt(1000) + 1e-3
            assert abs(sampled.mean() - exact) <= 4 * stderr + truncation * scale
        assert np.all(eps.faulty_steps >= eps.activations)
        if budget is not None:
            assert np.all(eps.activations + eps.budget_left == budget)
            assert np.all(eps.budget_left >= 0)
    # faults do run on: more faulty steps than activations
    assert eps.faulty_steps.sum() > eps.activations.sum()


def test_bad_terminate_p_is_named():
    game = random_game(0, 3, 2, 2)
    for bad in (-0.1, 1.5, float("nan"), "0.5", True):
        with pytest.raises(ValueError, match="^terminate_p:"):
            solve(game, 0.1, terminate_p=bad)
        with pytest.raises(ValueError, match="^terminate_p:"):
            marta_q(0, game, 0.1, terminate_p=bad)


# ----------------------------------------------------------------- MARTA-Q
GENERATIVE = MartaQConfig(num_steps=4000, samples_per_pair=32)
TRAJECTORY = MartaQConfig(sampling="trajectory", num_steps=6000, num_chains=64, epsilon=0.5)


@pytest.mark.parametrize("seed, budget", [(0, None), (1, None), (0, 2)])
def test_generative_marta_q_learns_persistent_faults(seed, budget):
    game = random_game(seed, 4, 2, 2, gamma=0.8)
    exact = solve(game, 0.3, budget, terminate_p=0.4)
    learned = marta_q(seed, game, 0.3, budget, GENERATIVE, terminate_p=0.4)
    assert learned.fault_q.shape == exact.fault_q.shape
    assert np.max(np.abs(learned.q - exact.q)) < 1e-2
    assert np.max(np.abs(learned.fault_q - exact.fault_q)) < 1e-2
    assert np.max(np.abs(learned.v - exact.v)) < 1e-2
    # the persistent game is a different game: its fault values are far from the one-step ones
    assert np.max(np.abs(solve(game, 0.3, budget).fault_q - exact.fault_q)) > 0.1


@pytest.mark.parametrize("seed", range(2))
def test_trajectory_marta_q_with_running_faults_converges(seed):
    game = random_game(seed, 4, 2, 2, gamma=0.8)
    exact = solve(game, 0.3, terminate_p=0.4)
    learned = marta_q(seed, game, 0.3, config=TRAJECTORY, terminate_p=0.4)
    again = marta_q(seed, game, 0.3, config=TRAJECTORY, terminate_p=0.4)
    assert np.array_equal(learned.fault_q, again.fault_q)  # seeded
    assert learned.visits.min() > 1000
    assert np.max(np.abs(learned.q - exact.q)) < 1e-2
    assert np.max(np.abs(learned.fault_q - exact.fault_q)) < 1.5e-2


def test_trajectory_behaviour_keeps_a_running_fault_without_a_switcher_decision():
    """Algorithm 2, lines 7-8: a chain whose fault runs on stays faulty with the same agent, who
    plays the Adversary's action, even where the Switcher would not activate."""
    game = random_game(3, 4, 2, 2, gamma=0.8)
    sol = solve(game, 5.0, terminate_p=0.5)  # c this high: the Switcher never activates
    assert not sol.activates.any()
    q = np.stack([sol.q.reshape(4, -1), *sol.fault_q.reshape(2, 4, -1)])[None]  # [1, 3, S, A]
    backup, _ = apply_contexts(game, q, 5.0, budgeted=False)
    s = np.array([0, 1, 2, 3, 0, 1, 2, 3])
    running = np.array([0, 1, 0, 1, -1, -1, -1, -1])
    actions, faulty = _behaviour(np.random.default_rng(0), game, q, backup, s, running, 0.0)
    assert faulty.tolist() == running.tolist()
    joint = game.joint_actions(actions)
    for chain in range(4):
        i, state = running[chain], s[chain]
        assert joint[chain, i] == sol.running_action[i, state]
        assert joint[chain].tolist() == sol.running_response[i, state].tolist()
    assert np.array_equal(joint[4:], sol.team_action[s[4:]])


# ----------------------------------------------------------------- marta solve
def test_solve_cli_shows_running_faults(capsys):
    argv = ["solve", "--game", "critical-state", "--cost", "0.05", "--terminate-p", "0.3"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "cost=0.05 budget=none terminate_p=0.3" in out
    free, running = out.split("while a fault runs on:")
    assert "switcher activates in 1/6 states" in free
    rows = [line.split() for line in running.strip().splitlines()[2:]]
    assert len(rows) == 2 * 6  # one row per agent and state
    assert [r[2] for r in rows if r[4] == "act1"] == ["critical", "critical"]
    assert main(["solve", "--game", "corridor", "--cost", "1", "--terminate-p", "2"]) == 2
    assert "terminate_p:" in capsys.readouterr().err
    for argv in (["--cost", "0.05"], ["--cost", "inf", "--terminate-p", "0.3"]):
        assert main(["solve", "--game", "critical-state", *argv]) == 0
        assert "while a fault runs on" not in capsys.readouterr().out  # no fault would run
