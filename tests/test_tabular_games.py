"""FaultGame validation, the random generator and the example-game registry."""

from __future__ import annotations

import numpy as np
import pytest

from marta.tabular import GAMES, FaultGame, make_game, random_game, solve


def _valid(S=3, shape=(2, 2)):
    g = random_game(0, S, shape)
    return np.array(g.P), np.array(g.R)


def test_valid_game_is_frozen_and_sized():
    P, R = _valid(3, (2, 3))
    g = FaultGame(P, R, 0.9)
    assert (g.num_states, g.action_shape, g.num_agents, g.num_joint_actions) == (3, (2, 3), 2, 6)
    assert g.transition_flat.shape == (3, 6, 3) and g.reward_flat.shape == (3, 6)
    with pytest.raises(ValueError):  # read-only copy: the caller's array cannot change the game
        g.P[0, 0, 0, 0] = 0.5
    P[...] = 0.0
    assert np.allclose(g.P.sum(-1), 1.0)
    actions = np.array([[1, 2], [0, 0]])
    assert np.array_equal(g.joint_actions(g.joint_index(actions)), actions)


def _negative_entry(P, R):
    P = P.copy()
    P[0, 0, 0, 0], P[0, 0, 0, 1] = -0.5, P[0, 0, 0, 1] + P[0, 0, 0, 0] + 0.5  # rows still sum to 1
    return P, R


@pytest.mark.parametrize(
    "mutate, arg",
    [
        (lambda P, R: (P * 1.1, R), "P"),  # rows sum to 1.1
        (_negative_entry, "P"),
        (lambda P, R: (P[..., :-1], R), "P"),  # first and last axes disagree
        (lambda P, R: (P[0, 0], R[0, 0]), "P"),  # no agent axis
        (lambda P, R: (P, R[:, :1]), "R"),  # mismatched shape
        (lambda P, R: (P, R * np.nan), "R"),
    ],
)
def test_bad_transition_or_reward_names_argument(mutate, arg):
    P, R = mutate(*_valid())
    with pytest.raises(ValueError, match=rf"^{arg}:"):
        FaultGame(P, R, 0.9)


@pytest.mark.parametrize("gamma", [1.0, -0.1, 1.5, float("nan"), "0.9", True])
def test_gamma_outside_unit_interval_names_gamma(gamma):
    P, R = _valid()
    with pytest.raises(ValueError, match="^gamma:"):
        FaultGame(P, R, gamma)


def test_random_game_is_seeded_and_heterogeneous_actions_work():
    a, b, c = random_game(7, 4, (2, 3, 2)), random_game(7, 4, (2, 3, 2)), random_game(8, 4, 2, 3)
    assert np.array_equal(a.P, b.P) and np.array_equal(a.R, b.R)
    assert a.action_shape == (2, 3, 2) and c.action_shape == (2, 2, 2)
    assert not np.array_equal(a.R[..., :2, :], c.R)
    with pytest.raises(ValueError, match="^num_agents:"):
        random_game(0, 3, 2)


def test_registry_builds_every_game_and_rejects_unknown_names():
    assert {"corridor", "critical-state", "coordination"} <= set(GAMES)
    for name, entry in GAMES.items():
        g = make_game(name)
        assert isinstance(g, FaultGame) and g.name == name and entry.description
    assert make_game("corridor", gamma=0.5).gamma == 0.5
    with pytest.raises(ValueError, match="registered games"):
        make_game("no-such-game")


def test_critical_state_switcher_activates_exactly_at_critical_states():
    g = make_game("critical-state", num_states=7, critical=(2, 5))
    for cost in (0.0, 0.3, 0.8):
        assert np.flatnonzero(solve(g, cost).activates).tolist() == [2, 5]
    assert not solve(g, 1.5).activates.any()


def test_corridor_switcher_only_near_delivery_and_coordination_team_adapts():
    corridor = solve(make_game("corridor", length=6), 0.1)
    assert corridor.activates.tolist() == [False] * 5 + [True]
    # the faulty agent pulls, the others cannot undo it
    agent = corridor.switcher_action[-1] - 1
    assert corridor.fault_action[agent, -1] == 2
    coord = solve(make_game("coordination"), 0.1)
    # in "synced" the faulty agent picks the worst convention and the team follows it
    assert coord.switcher_action.tolist() == [1, 0]
    assert coord.executed_action[0].tolist() == [2, 2]
