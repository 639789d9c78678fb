"""Exact solution of the fault game by value iteration of MARTA's operator.

How to read this file: :func:`solve` (Theorem 1, Theorem 4 with a budget) and
:func:`evaluate_policy` (Proposition 1) both run :func:`_value_iteration` on
:func:`marta.tabular.operators.apply` and then :func:`_extract` reads off the policies of
Proposition 2 (where the Switcher activates and against whom), the Adversary's worst action,
the team's best response, and evaluates the resulting executed policy exactly (a linear solve),
which gives the team's own return (without activation costs) and the expected discounted number
of activations.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from marta.tabular.games import FaultGame
from marta.tabular.operators import (
    TeamPolicy,
    apply,
    backup_q,
    check_budget,
    check_cost,
)

#: the Switcher activates only where the fault branch is lower than the nominal branch by more
#: than this (Proposition 2's strict indicator, made robust to round-off)
ACTIVATION_ATOL = 1e-9


@dataclasses.dataclass(frozen=True, eq=False)
class Solution:
    """The solved fault game. Leading axis ``[budget + 1]`` on every array when ``budget`` is set
    (index ``y`` = remaining activations), absent otherwise. ``N`` agents, ``S`` states.

    Attributes:
        v: ``f64[S]``, the game value :math:`v^*` (team return plus ``cost`` per activation,
            discounted; equals the team return when ``cost == 0``).
        q: ``f64[S, A_1, ..., A_N]``, :math:`Q^*(s, \\boldsymbol a) = \\mathcal R + \\gamma P v^*`
            (action values with no activation at this step).
        nominal: ``f64[S]``, :math:`\\max_{\\boldsymbol a} Q^*` (or :math:`E_\\pi Q^*`).
        fault: ``f64[S]``, :math:`c + \\min_i \\min_{a^i} \\max_{a^{-i}} Q^*` (``inf`` where no
            activation is possible).
        switcher_action: ``int[S]`` in ``{0, 1, ..., N}``: 0 = no activation, ``i + 1`` =
            agent ``i`` malfunctions (Proposition 2: activate iff ``fault < nominal``).
        fault_action: ``int[N, S]``, the Adversary's worst action :math:`f^i` for each agent.
        fault_response: ``int[N, S, N]``, the joint action executed when agent ``i`` is faulty
            (component ``i`` is ``fault_action``, the others the team's best response; ``-1``
            where undefined: a stochastic fixed policy, or budget level 0).
        team_action: ``int[S, N]``, the team's greedy joint action without a fault (``-1`` for a
            stochastic fixed policy).
        team_value: ``f64[S]``, the team's expected discounted return (no costs) when everyone
            plays the solved policies.
        expected_activations: ``f64[S]``, expected discounted number of activations
            :math:`E[\\sum_t \\gamma^t \\mathbf 1\\{g_t \\ne 0\\}]` under the solved policies.
        iterations: number of value-iteration sweeps used.
        cost: activation cost ``c``.
        budget: ``None`` or the budget ``n``.
        gamma: the game's discount.
    """

    v: np.ndarray
    q: np.ndarray
    nominal: np.ndarray
    fault: np.ndarray
    switcher_action: np.ndarray
    fault_action: np.ndarray
    fault_response: np.ndarray
    team_action: np.ndarray
    team_value: np.ndarray
    expected_activations: np.ndarray
    iterations: int
    cost: float
    budget: int | None
    gamma: float

    @property
    def activates(self) -> np.ndarray:
        """``bool[S]``: where the Switcher activates a malfunction."""
        return self.switcher_action > 0

    @property
    def executed_action(self) -> np.ndarray:
        """``int[S, N]``: the joint action executed in each state under the solved policies."""
        agent = np.maximum(self.switcher_action - 1, 0)
        fault = np.take_along_axis(self.fault_response, agent[..., None, :, None], axis=-3).squeeze(
            -3
        )
        return np.where(self.activates[..., None], fault, self.team_action)


def _check_iteration_args(tol: float, max_iters: int) -> None:
    if not tol > 0:
        raise ValueError(f"tol: must be > 0, got {tol}")
    if isinstance(max_iters, bool) or not isinstance(max_iters, (int, np.integer)):
        raise ValueError(f"max_iters: expected an int >= 1, got {max_iters!r}")
    if max_iters < 1:
        raise ValueError(f"max_iters: expected an int >= 1, got {max_iters}")


def _value_iteration(
    game: FaultGame,
    cost: float,
    budgeted: bool,
    levels: int,
    policy: TeamPolicy | None,
    v0: np.ndarray | None,
    tol: float,
    max_iters: int,
) -> tuple[np.ndarray, int]:
    """Iterates ``v <- T v`` until :math:`\\gamma/(1-\\gamma)\\|T v - v\\|_\\infty \\le` ``tol``,
    which bounds the sup distance to the fixed point (Banach)."""
    shape = (levels, game.num_states)
    v = np.zeros(shape) if v0 is None else np.broadcast_to(np.asarray(v0, float), shape).copy()
    factor = game.gamma / (1.0 - game.gamma)
    for k in range(1, max_iters + 1):
        v_new = apply(game, backup_q(game, v), cost, budgeted=budgeted, policy=policy).value
        diff = float(np.max(np.abs(v_new - v)))
        v = v_new
        if factor * diff <= tol:
            return v, k
    raise RuntimeError(
        f"value iteration did not reach tol={tol} in max_iters={max_iters} sweeps "
        f"(last change {diff:.3g}); raise max_iters"
    )


def _best_response(game: FaultGame, q_nd: np.ndarray, i: int, a_i: np.ndarray) -> np.ndarray:
    """Team's best joint action with agent ``i`` fixed to ``a_i`` ``[L, S]``: ``int[L, S, N]``."""
    fixed = np.take_along_axis(
        q_nd, a_i.reshape(a_i.shape + (1,) * game.num_agents), axis=2 + i
    ).squeeze(2 + i)  # [L, S, A_-i...]
    others = [n for j, n in enumerate(game.action_shape) if j != i]
    if not others:
        return a_i[..., None]
    best = np.unravel_index(fixed.reshape(*fixed.shape[:2], -1).argmax(-1), others)
    return np.stack([*best[:i], a_i, *best[i:]], axis=-1)


def _onehot_joint(game: FaultGame, actions: np.ndarray) -> np.ndarray:
    """``int[..., N]`` joint actions -> ``f64[..., A]`` one-hot over flat joint actions."""
    return np.eye(game.num_joint_actions)[game.joint_index(actions)]


def _extract(
    game: FaultGame,
    v: np.ndarray,
    cost: float,
    budget: int | None,
    policy: TeamPolicy | None,
    iterations: int,
) -> Solution:
    budgeted = budget is not None
    L, S, N = v.shape[0], game.num_states, game.num_agents
    q = backup_q(game, v)
    b = apply(game, q, cost, budgeted=budgeted, policy=policy)
    activate = b.nominal - b.fault > ACTIVATION_ATOL  # Proposition 2
    switcher_action = np.where(activate, 1 + b.fault_per_agent.argmin(axis=1), 0)
    # the fault branch at level y reads q at level y - 1 (budget) or y (no budget)
    q_src = np.concatenate([q[:1], q[:-1]]) if budgeted else q
    q_src_nd = q_src.reshape(L, S, *game.action_shape)
    # ----- joint actions and their distributions: nominal [L, S, A], per faulty agent
    if policy is None:
        team_action = game.joint_actions(q.argmax(-1))
        fault_response = np.stack(
            [_best_response(game, q_src_nd, i, b.fault_action[:, i]) for i in range(N)], axis=1
        )
        nominal_dist = _onehot_joint(game, team_action)
        fault_dist = _onehot_joint(game, fault_response)  # [L, N, S, A]
    else:
        det = policy.deterministic
        greedy = np.stack([p.argmax(-1) for p in policy.probs], axis=-1)  # [S, N]
        team_action = np.broadcast_to(greedy if det else -1, (L, S, N)).copy()
        fault_response = np.broadcast_to(team_action[:, None], (L, N, S, N)).copy()
        nominal_dist = np.broadcast_to(
            policy.weights(game).reshape(S, -1), (L, S, game.num_joint_actions)
        )
        fault_dist = []
        for i in range(N):
            fault_response[:, i, :, i] = b.fault_action[:, i]
            onehot = np.eye(game.action_shape[i])[b.fault_action[:, i]]  # [L, S, A_i]
            shape = [L, S] + [1] * N
            shape[2 + i] = game.action_shape[i]
            w = policy.weights(game, exclude=i)[None] * onehot.reshape(shape)
            fault_dist.append(w.reshape(L, S, -1))
        fault_dist = np.stack(fault_dist, axis=1)
    if budgeted:
        fault_response[0] = -1
    chosen = np.take_along_axis(
        fault_dist, np.maximum(switcher_action - 1, 0)[:, None, :, None], axis=1
    ).squeeze(1)
    exec_dist = np.where(activate[..., None], chosen, nominal_dist)
    next_level = np.arange(L)[:, None] - (activate if budgeted else 0)
    team_value, activations = _evaluate_executed(game, exec_dist, next_level, activate)
    squeeze = (lambda x: x) if budgeted else (lambda x: x[0])
    return Solution(
        v=squeeze(v),
        q=squeeze(q.reshape(L, S, *game.action_shape)),
        nominal=squeeze(b.nominal),
        fault=squeeze(b.fault),
        switcher_action=squeeze(switcher_action),
        fault_action=squeeze(b.fault_action),
        fault_response=squeeze(fault_response),
        team_action=squeeze(team_action),
        team_value=squeeze(team_value),
        expected_activations=squeeze(activations),
        iterations=iterations,
        cost=cost,
        budget=budget,
        gamma=game.gamma,
    )


def _evaluate_executed(
    game: FaultGame, exec_dist: np.ndarray, next_level: np.ndarray, activate: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Exact discounted values of a fixed executed policy on the (level, state) chain.

    Solves :math:`(I - \\gamma M) x = r` for the team reward and for the activation indicator.
    """
    L, S = activate.shape
    reward = np.einsum("lsa,sa->ls", exec_dist, game.reward_flat)
    step = np.einsum("lsa,sat->lst", exec_dist, game.transition_flat)  # [L, S, S']
    M = np.zeros((L, S, L, S))
    lv, sv = np.meshgrid(np.arange(L), np.arange(S), indexing="ij")
    M[lv, sv, next_level] = step
    A = np.eye(L * S) - game.gamma * M.reshape(L * S, L * S)
    rhs = np.stack([reward.ravel(), activate.astype(float).ravel()], axis=-1)
    out = np.linalg.solve(A, rhs)
    return out[:, 0].reshape(L, S), out[:, 1].reshape(L, S)


def solve(
    game: FaultGame,
    cost: float,
    budget: int | None = None,
    *,
    tol: float = 1e-10,
    max_iters: int = 100_000,
    v0: np.ndarray | None = None,
) -> Solution:
    """Solves the fault game exactly (Theorem 1; Theorem 4 when ``budget`` is given).

    Iterates :math:`v \\leftarrow Tv` with
    :math:`Tv(s) = \\min\\{\\max_{\\boldsymbol a} Q(s,\\boldsymbol a),\\,
    c + \\min_i\\min_{a^i}\\max_{a^{-i}} Q(s,(a^i,a^{-i}))\\}`,
    :math:`Q = \\mathcal R + \\gamma P v`. With ``budget = n`` the state is augmented with the
    remaining activations ``y`` (Theorem 4): the fault branch at ``(s, y)`` continues at
    ``y - 1`` and ``v(s, 0)`` is the no-fault optimum.

    Args:
        game: the fault game.
        cost: activation cost ``c >= 0`` (``inf``: the Switcher never activates).
        budget: ``None`` (unlimited activations) or ``n >= 0``.
        tol: guaranteed sup-norm distance of the returned ``v`` to the fixed point.
        max_iters: maximum number of sweeps (``RuntimeError`` if exceeded).
        v0: optional starting values, ``f64[S]`` or ``f64[n + 1, S]`` (default zeros).

    Returns:
        A :class:`Solution`.

    Raises:
        ValueError: naming ``cost``, ``budget``, ``tol`` or ``max_iters``.
    """
    return _solve(game, cost, budget, None, tol, max_iters, v0)


def evaluate_policy(
    game: FaultGame,
    policy: TeamPolicy | Sequence[np.ndarray] | np.ndarray,
    cost: float,
    budget: int | None = None,
    *,
    tol: float = 1e-10,
    max_iters: int = 100_000,
    v0: np.ndarray | None = None,
) -> Solution:
    """A fixed team policy against the optimal Switcher (Proposition 1).

    The non-faulty agents keep playing :math:`\\pi^{-i}` (they do not best-respond):
    :math:`T_\\pi v(s) = \\min\\{E_{\\boldsymbol a\\sim\\pi} Q(s,\\boldsymbol a),\\,
    c + \\min_i\\min_{a^i} E_{a^{-i}\\sim\\pi^{-i}} Q(s,(a^i,a^{-i}))\\}`.

    Args:
        game: the fault game.
        policy: ``int[S, N]`` deterministic joint actions, ``N`` arrays ``f64[S, A_i]``, or a
            :class:`~marta.tabular.operators.TeamPolicy`.
        cost, budget, tol, max_iters, v0: as in :func:`solve`.

    Returns:
        A :class:`Solution` (``team_action``/``fault_response`` entries are ``-1`` where the
        policy is stochastic).
    """
    return _solve(game, cost, budget, TeamPolicy.from_any(game, policy), tol, max_iters, v0)


def _solve(game, cost, budget, policy, tol, max_iters, v0) -> Solution:
    cost = check_cost(cost)
    budget = check_budget(budget)
    _check_iteration_args(tol, max_iters)
    levels = 1 if budget is None else budget + 1
    if v0 is not None:
        expected = (game.num_states,) if budget is None else (levels, game.num_states)
        if np.shape(v0) != expected:
            raise ValueError(f"v0: expected shape {expected}, got {np.shape(v0)}")
    budgeted = budget is not None
    v, iters = _value_iteration(game, cost, budgeted, levels, policy, v0, tol, max_iters)
    return _extract(game, v, cost, budget, policy, iters)
