"""Exact solution of the fault game by value iteration of MARTA's operator.

How to read this file: :func:`solve` (Theorem 1, Theorem 4 with a budget) and
:func:`evaluate_policy` (Proposition 1) both run :func:`_value_iteration` on
:func:`marta.tabular.operators.apply` and then :func:`_extract` reads off the policies of
Proposition 2 (where the Switcher activates and against whom), the Adversary's worst action,
the team's best response, and evaluates the resulting executed policy exactly (a linear solve),
which gives the team's own return (without activation costs) and the expected discounted number
of activations and of faulty steps. With persistent faults (``terminate_p < 1``) the values
carry the fault-context axis of :mod:`marta.tabular.operators` and the executed policy is
evaluated on the chain over (budget level, context, state).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from marta.tabular.games import FaultGame
from marta.tabular.operators import (
    TeamPolicy,
    apply_contexts,
    backup_contexts,
    check_budget,
    check_cost,
    check_terminate_p,
    fault_tables,
    num_contexts,
)

#: the Switcher activates only where the fault branch is lower than the nominal branch by more
#: than this (Proposition 2's strict indicator, made robust to round-off)
ACTIVATION_ATOL = 1e-9


@dataclasses.dataclass(frozen=True, eq=False)
class Solution:
    """The solved fault game. Leading axis ``[budget + 1]`` on every array when ``budget`` is set
    (index ``y`` = remaining activations), absent otherwise. ``N`` agents, ``S`` states. The
    fields without ``running`` describe the states where no fault is running (the Switcher
    decides); with persistent faults (``terminate_p < 1``) the ``running_*`` fields describe the
    states where agent ``i``'s fault runs on, at the remaining budget after its activation.

    Attributes:
        v: ``f64[S]``, the game value :math:`v^*` (team return plus ``cost`` per faulty step,
            discounted; equals the team return when ``cost == 0``).
        q: ``f64[S, A_1, ..., A_N]``, :math:`Q^*(s, \\boldsymbol a) = \\mathcal R + \\gamma P v^*`
            (action values with no activation at this step).
        nominal: ``f64[S]``, :math:`\\max_{\\boldsymbol a} Q^*` (or :math:`E_\\pi Q^*`).
        fault: ``f64[S]``, :math:`c + \\min_i \\min_{a^i} \\max_{a^{-i}} Q^*` (``inf`` where no
            activation is possible; :math:`Q^*_{1+i}` in place of :math:`Q^*` with persistent
            faults).
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
        expected_faulty_steps: ``f64[S]``, the same for faulty steps (activations and the steps a
            fault runs on); ``v = team_value + cost * expected_faulty_steps``.
        fault_q: ``f64[N, S, A_1, ..., A_N]``, the action values agent ``i``'s fault reads:
            :math:`Q^*_{1+i}` (a step with agent ``i`` faulty, its fault then ending with
            probability ``terminate_p``); every entry is ``q`` for one-step faults.
        running_value: ``f64[N, S]``, value of a state where agent ``i``'s fault runs on:
            :math:`c + \\min_{a^i} \\max_{a^{-i}} Q^*_{1+i}`.
        running_action: ``int[N, S]``, the Adversary's action in a running fault.
        running_response: ``int[N, S, N]``, the joint action executed in a running fault (as
            ``fault_response``).
        iterations: number of value-iteration sweeps used.
        cost: activation cost ``c``.
        budget: ``None`` or the budget ``n``.
        terminate_p: probability that a fault ends after each faulty step (1: one-step faults).
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
    expected_faulty_steps: np.ndarray
    fault_q: np.ndarray
    running_value: np.ndarray
    running_action: np.ndarray
    running_response: np.ndarray
    iterations: int
    cost: float
    budget: int | None
    terminate_p: float
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
    shape: tuple[int, int, int],
    terminate_p: float,
    policy: TeamPolicy | None,
    v0: np.ndarray | None,
    tol: float,
    max_iters: int,
) -> tuple[np.ndarray, int]:
    """Iterates ``v <- T v`` on ``[L, K, S]`` values until
    :math:`\\gamma/(1-\\gamma)\\|T v - v\\|_\\infty \\le` ``tol``, which bounds the sup distance
    to the fixed point (Banach)."""
    v = np.zeros(shape)
    if v0 is not None:  # [L, S] (or [1, S]): the same start in every context
        v = v + np.asarray(v0, float)[:, None]
    factor = game.gamma / (1.0 - game.gamma)
    for k in range(1, max_iters + 1):
        q = backup_contexts(game, v, terminate_p)
        _, v_new = apply_contexts(game, q, cost, budgeted=budgeted, policy=policy)
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


def _faulty_play(
    game: FaultGame,
    fault_q: np.ndarray,
    fault_action: np.ndarray,
    policy: TeamPolicy | None,
    team_action: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """What is executed with agent ``i`` faulty: (``int[L, N, S, N]`` joint actions,
    ``f64[L, N, S, A]`` their distribution). Agent ``i`` plays ``fault_action[:, i]``; the others
    best-respond in ``fault_q[:, i]`` (``[L, N, S, A]``), or keep playing ``policy``
    (Proposition 1; then the joint action is ``team_action``'s with component ``i`` replaced)."""
    L, N, S = fault_action.shape
    if policy is None:
        response = np.stack(
            [
                _best_response(
                    game, fault_q[:, i].reshape(L, S, *game.action_shape), i, fault_action[:, i]
                )
                for i in range(N)
            ],
            axis=1,
        )
        return response, _onehot_joint(game, response)
    response = np.broadcast_to(team_action[:, None], (L, N, S, N)).copy()
    dist = []
    for i in range(N):
        response[:, i, :, i] = fault_action[:, i]
        onehot = np.eye(game.action_shape[i])[fault_action[:, i]]  # [L, S, A_i]
        shape = [L, S] + [1] * N
        shape[2 + i] = game.action_shape[i]
        w = policy.weights(game, exclude=i)[None] * onehot.reshape(shape)
        dist.append(w.reshape(L, S, -1))
    return response, np.stack(dist, axis=1)


def _extract(
    game: FaultGame,
    v: np.ndarray,
    cost: float,
    budget: int | None,
    terminate_p: float,
    policy: TeamPolicy | None,
    iterations: int,
) -> Solution:
    budgeted = budget is not None
    (L, K, S), N = v.shape, game.num_agents
    q = backup_contexts(game, v, terminate_p)  # [L, K, S, A]
    b, _ = apply_contexts(game, q, cost, budgeted=budgeted, policy=policy)
    activate = b.nominal - b.fault > ACTIVATION_ATOL  # Proposition 2
    switcher_action = np.where(activate, 1 + b.fault_per_agent.argmin(axis=1), 0)
    # agent i's fault reads Q_{1+i} (Q_0 for one-step faults), one level up with a budget
    fault_q = fault_tables(q, N)
    activation_q = np.concatenate([fault_q[:1], fault_q[:-1]]) if budgeted else fault_q
    if policy is None:
        team_action = game.joint_actions(q[:, 0].argmax(-1))
        nominal_dist = _onehot_joint(game, team_action)
    else:
        greedy = np.stack([p.argmax(-1) for p in policy.probs], axis=-1)  # [S, N]
        team_action = np.broadcast_to(greedy if policy.deterministic else -1, (L, S, N)).copy()
        nominal_dist = np.broadcast_to(
            policy.weights(game).reshape(S, -1), (L, S, game.num_joint_actions)
        )
    fault_response, fault_dist = _faulty_play(
        game, activation_q, b.fault_action, policy, team_action
    )
    running_response, running_dist = _faulty_play(
        game, fault_q, b.running_action, policy, team_action
    )
    if budgeted:
        fault_response[0] = -1
    agent = np.maximum(switcher_action - 1, 0)
    chosen = np.take_along_axis(fault_dist, agent[:, None, :, None], axis=1).squeeze(1)
    exec_dist = np.where(activate[..., None], chosen, nominal_dist)  # [L, S, A]
    team_value, activations, faulty = _evaluate_executed(
        game, exec_dist, running_dist, activate, agent, budgeted, K, terminate_p
    )
    squeeze = (lambda x: x) if budgeted else (lambda x: x[0])
    return Solution(
        v=squeeze(v[:, 0]),
        q=squeeze(q[:, 0].reshape(L, S, *game.action_shape)),
        nominal=squeeze(b.nominal),
        fault=squeeze(b.fault),
        switcher_action=squeeze(switcher_action),
        fault_action=squeeze(b.fault_action),
        fault_response=squeeze(fault_response),
        team_action=squeeze(team_action),
        team_value=squeeze(team_value),
        expected_activations=squeeze(activations),
        expected_faulty_steps=squeeze(faulty),
        fault_q=squeeze(np.array(fault_q).reshape(L, N, S, *game.action_shape)),
        running_value=squeeze(cost + b.running),
        running_action=squeeze(b.running_action),
        running_response=squeeze(running_response),
        iterations=iterations,
        cost=cost,
        budget=budget,
        terminate_p=terminate_p,
        gamma=game.gamma,
    )


def _evaluate_executed(
    game: FaultGame,
    exec_dist: np.ndarray,
    running_dist: np.ndarray,
    activate: np.ndarray,
    agent: np.ndarray,
    budgeted: bool,
    contexts: int,
    terminate_p: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact discounted values of the executed policies on the (level, context, state) chain.

    Rows ``(y, 0, s)``: the free states, joint actions from ``exec_dist`` ``[L, S, A]``; an
    activation of ``agent`` moves to level ``y - 1`` (budget) and, with persistent faults, to
    context ``1 + agent`` with probability ``1 - terminate_p``. Rows ``(y, 1 + i, s)``: agent
    ``i``'s fault running, joint actions from ``running_dist[y, i]``; it ends with probability
    ``terminate_p``. Solves :math:`(I - \\gamma M) x = r` for the team reward, the activation
    indicator and the faulty-step indicator; returns the three at the free states, ``[L, S]``.
    """
    L, S = activate.shape
    K = contexts
    dist = exec_dist[:, None]
    if K > 1:
        dist = np.concatenate([dist, running_dist], axis=1)  # [L, K, S, A]
    reward = np.einsum("lksa,sa->lks", dist, game.reward_flat)
    step = np.einsum("lksa,sat->lkst", dist, game.transition_flat)  # [L, K, S, S']
    # where each row continues: weights over (level, context), [L, K, S, L, K]
    nxt = np.zeros((L, K, S, L, K))
    lv, sv = np.meshgrid(np.arange(L), np.arange(S), indexing="ij")
    level_after = lv - activate if budgeted else lv
    stay = 1.0 - terminate_p if K > 1 else 0.0
    nxt[lv, 0, sv, lv, 0] += ~activate
    nxt[lv, 0, sv, level_after, 0] += activate * (1.0 - stay)
    if K > 1:
        nxt[lv, 0, sv, level_after, 1 + agent] += activate * stay
        for i in range(K - 1):
            nxt[lv, 1 + i, sv, lv, 0] += terminate_p
            nxt[lv, 1 + i, sv, lv, 1 + i] += stay
    M = np.einsum("lksmj,lkst->lksmjt", nxt, step).reshape(L * K * S, L * K * S)
    faulty = np.ones((L, K, S))
    faulty[:, 0] = activate
    indicator = np.zeros((L, K, S))
    indicator[:, 0] = activate
    rhs = np.stack([reward.ravel(), indicator.ravel(), faulty.ravel()], axis=-1)
    out = np.linalg.solve(np.eye(L * K * S) - game.gamma * M, rhs).reshape(L, K, S, 3)
    return out[:, 0, :, 0], out[:, 0, :, 1], out[:, 0, :, 2]


def solve(
    game: FaultGame,
    cost: float,
    budget: int | None = None,
    *,
    terminate_p: float = 1.0,
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
    ``y - 1`` and ``v(s, 0)`` is the no-fault optimum. With ``terminate_p < 1`` a fault runs on
    until a Bernoulli(``terminate_p``) termination after each faulty step (Algorithms 1-2, lines
    7-8; the state is augmented with the running fault, see :mod:`marta.tabular.operators`);
    every faulty step costs ``c`` and a fault spends one unit of budget in all.

    Args:
        game: the fault game.
        cost: activation cost ``c >= 0`` (``inf``: the Switcher never activates).
        budget: ``None`` (unlimited activations) or ``n >= 0``.
        terminate_p: probability in ``[0, 1]`` that a fault ends after each faulty step (1:
            one-step faults, the operator of Theorem 1; 0: a fault never ends).
        tol: guaranteed sup-norm distance of the returned ``v`` to the fixed point.
        max_iters: maximum number of sweeps (``RuntimeError`` if exceeded).
        v0: optional starting values, ``f64[S]`` or ``f64[n + 1, S]`` (default zeros; with
            persistent faults every context starts from them).

    Returns:
        A :class:`Solution`.

    Raises:
        ValueError: naming ``cost``, ``budget``, ``terminate_p``, ``tol`` or ``max_iters``.
    """
    return _solve(game, cost, budget, terminate_p, None, tol, max_iters, v0)


def evaluate_policy(
    game: FaultGame,
    policy: TeamPolicy | Sequence[np.ndarray] | np.ndarray,
    cost: float,
    budget: int | None = None,
    *,
    terminate_p: float = 1.0,
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
        cost, budget, terminate_p, tol, max_iters, v0: as in :func:`solve`.

    Returns:
        A :class:`Solution` (``team_action``/``fault_response`` entries are ``-1`` where the
        policy is stochastic).
    """
    policy = TeamPolicy.from_any(game, policy)
    return _solve(game, cost, budget, terminate_p, policy, tol, max_iters, v0)


def _solve(game, cost, budget, terminate_p, policy, tol, max_iters, v0) -> Solution:
    cost = check_cost(cost)
    budget = check_budget(budget)
    terminate_p = check_terminate_p(terminate_p)
    _check_iteration_args(tol, max_iters)
    levels = 1 if budget is None else budget + 1
    if v0 is not None:
        expected = (game.num_states,) if budget is None else (levels, game.num_states)
        if np.shape(v0) != expected:
            raise ValueError(f"v0: expected shape {expected}, got {np.shape(v0)}")
        v0 = np.reshape(v0, (levels, game.num_states))
    shape = (levels, num_contexts(game, cost, terminate_p), game.num_states)
    budgeted = budget is not None
    v, iters = _value_iteration(
        game, cost, budgeted, shape, terminate_p, policy, v0, tol, max_iters
    )
    return _extract(game, v, cost, budget, terminate_p, policy, iters)
