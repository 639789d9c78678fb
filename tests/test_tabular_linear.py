"""MARTA with linear function approximation (Theorem 3): the projected fixed point, the
stochastic-approximation learner, and the paper's error bound, checked on several games.

Norm: :math:`\\|x\\|_\\xi`, the L2 norm weighted by the sampling distribution of state-action
pairs (the paper's stationary-distribution weighted norm; "stationary" = stationary state
distribution under uniformly random joint actions, times uniform actions). The paper's bound
:math:`\\|\\Phi r^* - Q^*\\|_\\xi \\le (1-\\gamma^2)^{-1/2}\\|\\Pi Q^* - Q^*\\|_\\xi` is NOT true in
general: its proof assumes the max/min operator is a contraction in this weighted norm. The tests
assert what holds: the equation, the sup-norm bound for aggregation features, the paper's bound
on the random-feature games below, and a counterexample with aggregation features.
"""

from __future__ import annotations

import numpy as np
import pytest

from marta.tabular import (
    LinearMartaQConfig,
    approximation_bound,
    bellman_q,
    linear_marta_q,
    projected_fixed_point,
    projected_residual,
    projection,
    random_game,
    solve,
    state_action_weights,
    weighted_norm,
)

COST = 0.2
S, N, A_I, P_FEATURES = 6, 2, 2, 8
SA = S * A_I**N


def _setup(seed: int, features: str, weights: str = "stationary"):
    game = random_game(seed, S, A_I, N, gamma=0.9)
    rng = np.random.default_rng(seed + 1000)
    if features == "random":
        phi = rng.normal(size=(SA, P_FEATURES))
    else:  # state-action aggregation: P_FEATURES groups, each non-empty
        groups = rng.integers(0, P_FEATURES, size=SA)
        groups[:P_FEATURES] = np.arange(P_FEATURES)
        phi = np.eye(P_FEATURES)[groups]
    return game, phi, state_action_weights(game, weights)


def _F(game, q):
    return bellman_q(game, q.reshape(1, game.num_states, -1), COST, budgeted=False).ravel()


@pytest.mark.parametrize("features", ["random", "aggregation"])
@pytest.mark.parametrize("seed", range(2))
def test_linear_marta_q_converges_to_the_projected_fixed_point(seed, features):
    game, phi, xi = _setup(seed, features)
    star = projected_fixed_point(game, phi, COST, xi)
    # the limit solves Pi F(Phi r) = Phi r
    assert star.residual < 1e-8
    assert weighted_norm(projection(phi, xi) @ _F(game, star.q) - star.q, xi) < 1e-8
    # the stochastic approximation (3000 steps x 256 samples) gets there
    r = linear_marta_q(seed, game, phi, COST, xi, LinearMartaQConfig(num_steps=3000))
    assert np.max(np.abs(phi @ r - star.q)) < 0.05
    assert projected_residual(game, phi, r, COST, xi) < 0.02


def test_tabular_features_recover_the_exact_solution():
    game = random_game(3, 4, 2, 2, gamma=0.9)
    phi = np.eye(16)
    xi = state_action_weights(game, "uniform")
    star = projected_fixed_point(game, phi, COST, xi)
    exact = solve(game, COST)
    assert np.allclose(star.q, exact.q.ravel(), atol=1e-8)
    bound = approximation_bound(game, phi, exact.q, star.r, xi)
    assert bound.best < 1e-12 and bound.error < 1e-8


@pytest.mark.parametrize("weights", ["stationary", "uniform"])
def test_error_bounds_on_several_games(weights):
    paper_fails = []
    for seed in range(20):
        exact_q = None
        for features in ("random", "aggregation"):
            game, phi, xi = _setup(seed, features, weights)
            exact_q = solve(game, COST).q.ravel() if exact_q is None else exact_q
            star = projected_fixed_point(game, phi, COST, xi)
            bound = approximation_bound(game, phi, exact_q, star.r, xi)
            if features == "random":
                # observed to hold on all of these games (not a theorem; see module docstring)
                assert bound.holds, (seed, bound)
            else:
                # aggregation: Pi is a sup-norm non-expansion, so Pi F is a gamma-contraction
                # in sup norm and ||Phi r* - Q*||_inf <= ||Pi Q* - Q*||_inf / (1 - gamma) holds
                sup_err = np.max(np.abs(star.q - exact_q))
                sup_best = np.max(np.abs(projection(phi, xi) @ exact_q - exact_q))
                assert sup_err <= sup_best / (1 - game.gamma) + 1e-9
                if not bound.holds:
                    paper_fails.append(seed)
    # the paper's weighted-L2 bound fails on some aggregation games (recorded in docs/theory.md)
    assert paper_fails, "expected counterexamples to the paper's bound"


def test_counterexample_to_the_weighted_l2_bound_and_the_broken_proof_step():
    game, phi, xi = _setup(4, "aggregation")  # error / bound = 1.63 (stationary weights)
    exact_q = solve(game, COST).q.ravel()
    star = projected_fixed_point(game, phi, COST, xi)
    bound = approximation_bound(game, phi, exact_q, star.r, xi)
    assert not bound.holds and bound.error > 1.5 * bound.bound
    # the proof's step ||F Phi r* - F Q*||_xi <= gamma ||Phi r* - Q*||_xi is what fails
    ratio = weighted_norm(_F(game, star.q) - _F(game, exact_q), xi) / weighted_norm(
        star.q - exact_q, xi
    )
    assert ratio > game.gamma


def test_bad_features_and_weights_name_argument():
    game = random_game(0, 3, 2, 2)
    with pytest.raises(ValueError, match="^phi:"):
        projected_fixed_point(game, np.ones((5, 2)), COST)
    with pytest.raises(ValueError, match="^phi:"):
        projected_fixed_point(game, np.ones((12, 2)), COST)  # rank 1
    with pytest.raises(ValueError, match="^xi:"):
        projected_fixed_point(game, np.eye(12), COST, xi=np.ones(12))
    with pytest.raises(ValueError, match="^cost:"):
        linear_marta_q(0, game, np.eye(12), -1.0)
    with pytest.raises(ValueError, match="^step_exponent:"):
        LinearMartaQConfig(step_exponent=1.5)
