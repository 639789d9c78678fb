"""MARTA-Q (Algorithm 2 / Theorem 2): sample-based learning converges to the exact solution."""

from __future__ import annotations

import numpy as np
import pytest

from marta.tabular import MartaQConfig, marta_q, random_game, solve

#: generative model: 4000 steps x 16 pairs x 32 next states = 2,048,000 sampled transitions
GENERATIVE = MartaQConfig(num_steps=4000, samples_per_pair=32)
#: Algorithm 2's behaviour (epsilon-greedy on MARTA's executed action): 6000 x 64 = 384,000
TRAJECTORY = MartaQConfig(sampling="trajectory", num_steps=6000, num_chains=64, epsilon=0.5)


def _sup(x, y):
    return float(np.max(np.abs(x - y)))


@pytest.mark.parametrize("seed", range(4))
def test_generative_marta_q_converges_to_exact_solution(seed):
    game = random_game(seed, 4, 2, 2, gamma=0.8)
    exact = solve(game, 0.3)
    learned = marta_q(100 + seed, game, 0.3, config=GENERATIVE)
    assert learned.num_samples == 2_048_000
    assert _sup(learned.q, exact.q) < 1e-2
    assert _sup(learned.v, exact.v) < 1e-2
    # Proposition 2's switch read off the learned Q agrees wherever the exact margin is clear
    margin = exact.nominal - exact.fault
    clear = np.abs(margin) > 0.05
    learned_activates = learned.v < learned.q.reshape(4, -1).max(-1) - 1e-9
    assert clear.any()
    assert np.array_equal(learned_activates[clear], exact.activates[clear])


@pytest.mark.parametrize("seed", range(2))
def test_generative_marta_q_with_budget_converges(seed):
    game = random_game(seed, 4, 2, 2, gamma=0.8)
    exact = solve(game, 0.2, budget=2)
    learned = marta_q(seed, game, 0.2, budget=2, config=GENERATIVE)
    assert learned.q.shape == exact.q.shape == (3, 4, 2, 2)
    assert _sup(learned.q, exact.q) < 1e-2


@pytest.mark.parametrize("seed", range(2))
def test_trajectory_marta_q_with_algorithm2_behaviour_converges(seed):
    game = random_game(seed, 4, 2, 2, gamma=0.8)
    exact = solve(game, 0.3)
    learned = marta_q(seed, game, 0.3, config=TRAJECTORY)
    assert learned.visits.min() > 1000  # exploring behaviour reaches every pair
    assert _sup(learned.q, exact.q) < 1e-2


def test_marta_q_is_seeded_and_error_shrinks_with_samples():
    game = random_game(9, 3, 2, 2, gamma=0.8)
    exact = solve(game, 0.1)
    short = MartaQConfig(num_steps=50, samples_per_pair=4)
    a, b = marta_q(1, game, 0.1, config=short), marta_q(1, game, 0.1, config=short)
    assert np.array_equal(a.q, b.q)
    errors = [
        _sup(marta_q(1, game, 0.1, config=MartaQConfig(num_steps=n, samples_per_pair=8)).q, exact.q)
        for n in (20, 2000)
    ]
    assert errors[1] < errors[0] / 5


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"num_steps": 0}, "num_steps"),
        ({"sampling": "replay"}, "sampling"),
        ({"epsilon": 1.5}, "epsilon"),
        ({"step_exponent": 0.5}, "step_exponent"),
        ({"samples_per_pair": 0}, "samples_per_pair"),
    ],
)
def test_bad_config_names_field(kwargs, field):
    with pytest.raises(ValueError, match=f"^{field}:"):
        MartaQConfig(**kwargs)


def test_bad_cost_and_budget_name_argument():
    game = random_game(0, 3, 2, 2)
    with pytest.raises(ValueError, match="^cost:"):
        marta_q(0, game, -1.0)
    with pytest.raises(ValueError, match="^budget:"):
        marta_q(0, game, 0.1, budget=-2)
