"""The MARTA Bellman operator on a finite fault game, written from the team's value.

Everything here is one vectorised numpy pass over ``[L, S, A]`` arrays, where ``L`` is the number
of budget levels (``L = 1`` without a budget, ``L = n + 1`` with budget ``n``; Theorem 4) and
``A`` the number of joint actions. Sign convention (derived in ``docs/theory.md``): ``v`` is the
value of the zero-sum game whose payoff is the team's return *plus* ``cost`` for every
activation, i.e. minus the Switcher's objective :math:`v_S`. The team maximises it, the Switcher
and the Adversary minimise it:

.. math::

    Q(s, \\boldsymbol a) = \\mathcal R(s, \\boldsymbol a) + \\gamma \\sum_{s'} P(s' \\mid s,
    \\boldsymbol a)\\, v(s'), \\qquad
    (Tv)(s) = \\min\\Big\\{\\max_{\\boldsymbol a} Q(s, \\boldsymbol a),\\;
    c + \\min_{i} \\min_{a^i} \\max_{a^{-i}} Q(s, (a^i, a^{-i}))\\Big\\}

(Theorem 1's :math:`T` with :math:`\\hat{\\mathcal M}`). With a fixed team policy
:math:`\\boldsymbol\\pi` (Proposition 1) the maxima become expectations under
:math:`\\boldsymbol\\pi` (the non-faulty agents keep playing :math:`\\pi^{-i}`). With a budget the
fault branch at level ``y`` reads ``Q`` at level ``y - 1`` and level 0 has no fault branch.

**Persistent faults** (Algorithms 1-2, lines 7-8: a malfunction of agent ``i`` continues until a
Bernoulli(``terminate_p``) termination after each faulty step). The state is augmented with the
*fault context* ``k``: 0 = no running fault (the Switcher decides), ``1 + i`` = agent ``i``'s fault
is running (no decision; the Adversary drives agent ``i`` and the step costs ``c`` again, as
Algorithm 1 line 10 charges it). Values carry a context axis, ``[L, K, S]`` with ``K = 1 + N``:

.. math::

    Q_0 = \\mathcal R + \\gamma P v_0, \\qquad
    Q_{1+i} = \\mathcal R + \\gamma P\\big(q\\, v_0 + (1 - q)\\, v_{1+i}\\big), \\\\
    v_0 = \\min\\Big\\{\\max_{\\boldsymbol a} Q_0,\\; c + \\min_i \\min_{a^i}\\max_{a^{-i}}
    Q_{1+i}\\Big\\}, \\qquad
    v_{1+i} = c + \\min_{a^i}\\max_{a^{-i}} Q_{1+i},

with ``q = terminate_p``. At ``q = 1`` every :math:`Q_{1+i}` is :math:`Q_0` and the context axis
has size 1 (the operator above); the same holds at ``c = inf``, where no fault ever starts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from marta.tabular.games import FaultGame


# --------------------------------------------------------------------------- team policy
@dataclasses.dataclass(frozen=True, eq=False)
class TeamPolicy:
    """A fixed decentralised team policy: one distribution per agent and state.

    Attributes:
        probs: ``N`` arrays, ``probs[i]`` is ``f64[S, A_i]`` with rows summing to 1.
    """

    probs: tuple[np.ndarray, ...]

    @classmethod
    def from_any(
        cls, game: FaultGame, policy: TeamPolicy | np.ndarray | Sequence[np.ndarray]
    ) -> TeamPolicy:
        """Accepts a :class:`TeamPolicy`, a deterministic ``int[S, N]`` joint action per state,
        or a sequence of ``N`` arrays ``[S, A_i]`` of probabilities.

        Raises:
            ValueError: naming ``policy`` when shapes or probabilities are wrong.
        """
        if isinstance(policy, TeamPolicy):
            probs = policy.probs
        else:
            arr = None if isinstance(policy, (list, tuple)) else np.asarray(policy)
            if arr is not None and np.issubdtype(arr.dtype, np.integer):
                if arr.shape != (game.num_states, game.num_agents):
                    raise ValueError(
                        f"policy: a deterministic policy needs shape "
                        f"[S, N] = {(game.num_states, game.num_agents)}, got {arr.shape}"
                    )
                if np.any(arr < 0) or np.any(arr >= np.array(game.action_shape)):
                    raise ValueError(f"policy: actions out of range for {game.action_shape}")
                probs = tuple(np.eye(n)[arr[:, i]] for i, n in enumerate(game.action_shape))
            else:
                probs = tuple(np.asarray(p, dtype=np.float64) for p in policy)
        if len(probs) != game.num_agents:
            raise ValueError(f"policy: expected {game.num_agents} agents, got {len(probs)}")
        for i, (p, n) in enumerate(zip(probs, game.action_shape, strict=True)):
            if p.shape != (game.num_states, n):
                raise ValueError(f"policy: agent {i} needs shape {(game.num_states, n)}")
            if np.any(p < 0) or not np.allclose(p.sum(-1), 1.0, atol=1e-8):
                raise ValueError(f"policy: agent {i}'s rows must be probability vectors")
        return cls(tuple(np.array(p, dtype=np.float64) for p in probs))

    @property
    def deterministic(self) -> bool:
        return all(np.all((p == 0) | (p == 1)) for p in self.probs)

    def weights(self, game: FaultGame, exclude: int | None = None) -> np.ndarray:
        """Product probability of the joint action, ``f64[S, A_1, ..., A_N]``; with ``exclude=i``
        agent ``i``'s axis is left at size 1 (the distribution of :math:`a^{-i}`)."""
        out = np.ones((game.num_states,) + (1,) * game.num_agents)
        for j, p in enumerate(self.probs):
            if j == exclude:
                continue
            shape = [game.num_states] + [1] * game.num_agents
            shape[1 + j] = p.shape[1]
            out = out * p.reshape(shape)
        return out


# --------------------------------------------------------------------------- operators
class Backup(NamedTuple):
    """One application of the operator to ``q`` (all ``[L, ...]`` arrays).

    Attributes:
        value: ``f64[L, S]``, :math:`\\min\\{\\text{nominal}, \\text{fault}\\}`.
        nominal: ``f64[L, S]``, :math:`\\max_{\\boldsymbol a} Q` (or :math:`E_{\\pi} Q`).
        fault: ``f64[L, S]``, the Switcher's activation branch
            :math:`c + \\min_i \\hat{\\mathcal M}_i Q` (``+inf`` at budget level 0).
        fault_per_agent: ``f64[L, N, S]``, :math:`\\min_{a^i} \\max_{a^{-i}} Q` per faulty
            agent ``i``, read at the level the fault branch uses, without the cost.
        fault_action: ``int[L, N, S]``, the Adversary's worst action for each faulty agent.
        running: ``f64[L, N, S]``, :math:`\\min_{a^i} \\max_{a^{-i}}` of agent ``i``'s fault
            values at the level itself (what a fault already running at level ``y`` gets; the
            fault branch reads it one level up with a budget), without the cost.
        running_action: ``int[L, N, S]``, the Adversary's worst action behind ``running``.
    """

    value: np.ndarray
    nominal: np.ndarray
    fault: np.ndarray
    fault_per_agent: np.ndarray
    fault_action: np.ndarray
    running: np.ndarray
    running_action: np.ndarray


def backup_q(game: FaultGame, v: np.ndarray) -> np.ndarray:
    """:math:`Q = \\mathcal R + \\gamma P v`: ``v`` ``f64[L, S]`` -> ``q`` ``f64[L, S, A]``."""
    return game.reward_flat[None] + game.gamma * np.tensordot(v, game.transition_flat, ([1], [2]))


def _reduce_joint(game: FaultGame, q_nd: np.ndarray, policy: TeamPolicy | None, axes, i=None):
    """Max (or expectation under the policy) of ``q_nd`` ``[L, S, A_1..A_N]`` over ``axes``."""
    if policy is None:
        return q_nd.max(axis=axes)
    return (q_nd * policy.weights(game, exclude=i)[None]).sum(axis=axes)


def apply(
    game: FaultGame,
    q: np.ndarray,
    cost: float,
    *,
    budgeted: bool,
    policy: TeamPolicy | None = None,
    fault_q: np.ndarray | None = None,
) -> Backup:
    """State values from action values: the outer ``min`` of Theorem 1's (or Prop. 1's) ``T``.

    Args:
        game: the fault game.
        q: ``f64[L, S, A]`` action values.
        cost: activation cost ``c >= 0`` (``inf`` disables the Switcher).
        budgeted: if True, level ``y``'s fault branch reads level ``y - 1`` (Theorem 4) and level
            0 cannot activate; if False every level reads itself (``L = 1`` normally).
        policy: a fixed team policy (Proposition 1) or ``None`` for the team's best response
            (Theorem 1).
        fault_q: ``f64[L, N, S, A]``, the action values agent ``i``'s fault branch reads (a
            persistent fault's :math:`Q_{1+i}`), or ``None``: ``q`` for every agent (one-step
            faults).

    Returns:
        A :class:`Backup`.
    """
    L, S = q.shape[:2]
    N = game.num_agents
    if fault_q is None:
        fault_q = np.broadcast_to(q[:, None], (L, N, *q.shape[1:]))
    agent_axes = tuple(range(2, 2 + N))
    nominal = _reduce_joint(game, q.reshape(L, S, *game.action_shape), policy, agent_axes)
    inner = []  # per agent i: [L, S, A_i], agent i's action against the others' max (or E_pi)
    for i in range(N):
        others = tuple(ax for ax in agent_axes if ax != 2 + i)
        q_nd = fault_q[:, i].reshape(L, S, *game.action_shape)
        reduced = _reduce_joint(game, q_nd, policy, others, i) if others else q_nd
        inner.append(reduced.reshape(L, S, game.action_shape[i]))
    running = np.stack([x.min(-1) for x in inner], axis=1)  # [L, N, S]
    running_action = np.stack([x.argmin(-1) for x in inner], axis=1)
    per_agent, fault_action = running, running_action
    if budgeted:
        inf = np.full((1, *per_agent.shape[1:]), np.inf)
        per_agent = np.concatenate([inf, per_agent[:-1]], axis=0)
        fault_action = np.concatenate([np.zeros_like(fault_action[:1]), fault_action[:-1]], 0)
    fault = cost + per_agent.min(axis=1)
    return Backup(
        np.minimum(nominal, fault), nominal, fault, per_agent, fault_action, running, running_action
    )


# --------------------------------------------------------------------------- persistent faults
def num_contexts(game: FaultGame, cost: float, terminate_p: float) -> int:
    """``K``, the size of the fault-context axis: ``1 + N`` for persistent faults, 1 when every
    fault ends after one step (``terminate_p = 1``) or none ever starts (``cost = inf``)."""
    return 1 if terminate_p == 1.0 or np.isinf(cost) else 1 + game.num_agents


def continuation(v: np.ndarray, terminate_p: float) -> np.ndarray:
    """Next-state values seen from each context, ``[L, K, S] -> [L, K, S]``: after a step with
    agent ``i`` faulty the fault ends with probability ``terminate_p`` (the Switcher decides
    again, :math:`v_0`) or keeps running (:math:`v_{1+i}`); Algorithm 1, lines 7-8."""
    if v.shape[1] == 1:
        return v
    free = v[:, :1]
    return np.concatenate([free, terminate_p * free + (1.0 - terminate_p) * v[:, 1:]], axis=1)


def backup_contexts(game: FaultGame, v: np.ndarray, terminate_p: float) -> np.ndarray:
    """:math:`Q_k = \\mathcal R + \\gamma P w_k` for every context: ``v`` ``f64[L, K, S]`` ->
    ``f64[L, K, S, A]`` (``w`` from :func:`continuation`)."""
    L, K, S = v.shape
    w = continuation(v, terminate_p).reshape(L * K, S)
    return backup_q(game, w).reshape(L, K, S, game.num_joint_actions)


def fault_tables(q: np.ndarray, num_agents: int) -> np.ndarray:
    """The action values agent ``i``'s fault reads, ``[L, K, S, A] -> [L, N, S, A]``:
    :math:`Q_{1+i}` with persistent faults, :math:`Q_0` for every agent when ``K = 1``."""
    if q.shape[1] > 1:
        return q[:, 1:]
    return np.broadcast_to(q[:, :1], (q.shape[0], num_agents, *q.shape[2:]))


def apply_contexts(
    game: FaultGame,
    q: np.ndarray,
    cost: float,
    *,
    budgeted: bool,
    policy: TeamPolicy | None = None,
) -> tuple[Backup, np.ndarray]:
    """The outer step of the operator with fault contexts: ``q`` ``f64[L, K, S, A]`` ->
    (the free context's :class:`Backup`, the new values ``f64[L, K, S]``: :math:`v_0` and, for
    ``K > 1``, the running faults' :math:`v_{1+i} = c + \\min_{a^i}\\max_{a^{-i}} Q_{1+i}`)."""
    fault_q = fault_tables(q, game.num_agents)
    b = apply(game, q[:, 0], cost, budgeted=budgeted, policy=policy, fault_q=fault_q)
    values = b.value[:, None]
    if q.shape[1] > 1:
        values = np.concatenate([values, cost + b.running], axis=1)
    return b, values


def bellman(
    game: FaultGame,
    v: np.ndarray,
    cost: float,
    budget: int | None = None,
    policy: TeamPolicy | Sequence[np.ndarray] | np.ndarray | None = None,
    terminate_p: float = 1.0,
) -> np.ndarray:
    """The operator :math:`T` on state values (Theorem 1; Proposition 1 with ``policy``;
    Theorem 4 with ``budget``; persistent faults with ``terminate_p < 1``).

    Args:
        game: the fault game.
        v: ``f64[S]`` (no budget) or ``f64[budget + 1, S]``; with persistent faults a context
            axis ``[1 + N]`` precedes ``S`` (index 0: no running fault, ``1 + i``: agent ``i``'s).
        cost: activation cost ``c >= 0``.
        budget: ``None`` or the number of activations ``n >= 0``.
        policy: ``None`` or a fixed team policy (see :meth:`TeamPolicy.from_any`).
        terminate_p: probability that a fault ends after each faulty step (1: one-step faults).

    Returns:
        ``Tv`` with the shape of ``v``.
    """
    terminate_p = check_terminate_p(terminate_p)
    v = np.asarray(v, dtype=np.float64)
    levels = v if budget is not None else v[None]
    if num_contexts(game, cost, terminate_p) == 1:
        levels = levels[:, None]
    elif levels.shape[1:] != (1 + game.num_agents, game.num_states):
        raise ValueError(
            f"v: persistent faults need a context axis, [..., {1 + game.num_agents}, S]"
        )
    pol = None if policy is None else TeamPolicy.from_any(game, policy)
    q = backup_contexts(game, levels, terminate_p)
    _, out = apply_contexts(game, q, cost, budgeted=budget is not None, policy=pol)
    out = out.reshape(v.shape if budget is not None else (1, *v.shape))
    return out if budget is not None else out[0]


def bellman_q(game: FaultGame, q: np.ndarray, cost: float, *, budgeted: bool) -> np.ndarray:
    """The same operator on action values, :math:`\\mathfrak F Q = \\mathcal R + \\gamma P
    \\min\\{\\hat{\\mathcal M} Q, \\max Q\\}` (Theorem 3's :math:`\\mathfrak F`): ``[L, S, A]``."""
    return backup_q(game, apply(game, q, cost, budgeted=budgeted).value)


def check_cost(cost: float) -> float:
    """Validates the activation cost ``c`` (``0 <= c``, ``inf`` allowed: no Switcher)."""
    if isinstance(cost, bool) or not isinstance(cost, (int, float, np.integer, np.floating)):
        raise ValueError(f"cost: expected a number >= 0, got {cost!r}")
    if np.isnan(cost) or cost < 0:
        raise ValueError(f"cost: must be >= 0 (or inf), got {cost}")
    return float(cost)


def check_budget(budget: int | None) -> int | None:
    """Validates the activation budget ``n`` (``None`` = unlimited, else an int ``>= 0``)."""
    if budget is None:
        return None
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)):
        raise ValueError(f"budget: expected None or an int >= 0, got {budget!r}")
    if budget < 0:
        raise ValueError(f"budget: must be >= 0, got {budget}")
    return int(budget)


def check_terminate_p(terminate_p: float) -> float:
    """Validates the probability that a running fault ends after each faulty step (``[0, 1]``;
    1 = one-step faults, 0 = a fault never ends)."""
    if isinstance(terminate_p, bool) or not isinstance(
        terminate_p, (int, float, np.integer, np.floating)
    ):
        raise ValueError(f"terminate_p: expected a number in [0, 1], got {terminate_p!r}")
    if not 0.0 <= terminate_p <= 1.0:
        raise ValueError(f"terminate_p: must be in [0, 1], got {terminate_p}")
    return float(terminate_p)
