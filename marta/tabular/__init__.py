"""Tabular MARTA: exact solution of the fault game and sample-based MARTA-Q.

Stands alone (numpy only, no other ``marta`` subpackage) so the paper's theory (Theorems 1-4,
Propositions 1-2) can be checked numerically; see ``docs/theory.md``.

* :mod:`~marta.tabular.games`: :class:`FaultGame`, :func:`random_game`, example games.
* :mod:`~marta.tabular.operators`: the operator :math:`T` (:func:`bellman`, :func:`bellman_q`),
  also for persistent faults (Algorithms 1-2, lines 7-8: ``terminate_p < 1``).
* :mod:`~marta.tabular.solver`: :func:`solve` (Theorems 1, 4), :func:`evaluate_policy`
  (Proposition 1), :class:`Solution` (Proposition 2's switching policy, running faults).
* :mod:`~marta.tabular.simulate`: Monte-Carlo rollouts of a solution.
* :mod:`~marta.tabular.marta_q`: MARTA-Q (Algorithm 2, Theorem 2), one-step or persistent faults.
* :mod:`~marta.tabular.linear`: linear function approximation (Theorem 3).
"""

from marta.tabular.games import GAMES, FaultGame, make_game, random_game, register
from marta.tabular.linear import (
    LinearMartaQConfig,
    LinearSolution,
    approximation_bound,
    linear_marta_q,
    projected_fixed_point,
    projected_residual,
    projection,
    state_action_weights,
    weighted_norm,
)
from marta.tabular.marta_q import MartaQConfig, MartaQResult, marta_q
from marta.tabular.operators import TeamPolicy, bellman, bellman_q
from marta.tabular.simulate import Episodes, simulate
from marta.tabular.solver import Solution, evaluate_policy, solve

__all__ = [
    "GAMES",
    "Episodes",
    "FaultGame",
    "LinearMartaQConfig",
    "LinearSolution",
    "MartaQConfig",
    "MartaQResult",
    "Solution",
    "TeamPolicy",
    "approximation_bound",
    "bellman",
    "bellman_q",
    "evaluate_policy",
    "linear_marta_q",
    "make_game",
    "marta_q",
    "projected_fixed_point",
    "projected_residual",
    "projection",
    "random_game",
    "register",
    "simulate",
    "solve",
    "state_action_weights",
    "weighted_norm",
]
