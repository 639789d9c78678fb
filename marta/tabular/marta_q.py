"""MARTA-Q: sample-based Q-learning of the fault game (Algorithm 2; Theorem 2).

How to read this file: :func:`marta_q` learns :math:`Q(y, s, \\boldsymbol a)` from sampled
transitions with the update

.. math::

    Q_{t+1}(s, \\boldsymbol a) = Q_t(s, \\boldsymbol a) + \\alpha_{n(s, \\boldsymbol a)}
    \\Big[\\mathcal R(s, \\boldsymbol a) + \\gamma \\min\\big\\{\\max_{\\boldsymbol a'}
    Q_t(s', \\boldsymbol a'),\\; c + \\min_i \\min_{a^i}\\max_{a^{-i}}
    Q_t(s', (a^i, a^{-i}))\\big\\}
    - Q_t(s, \\boldsymbol a)\\Big],

the stochastic version of the operator in :mod:`marta.tabular.operators` (the ``min`` sits at
the next state, as in Theorem 3's :math:`\\mathfrak F`; Theorem 2's display puts
:math:`\\hat{\\mathcal M}Q_t(s_t, \\cdot)` outside the reward, which is not a sample of a
contraction's fixed point; see ``docs/theory.md``). With a budget every level ``y`` is updated
from the same transition (the dynamics do not depend on ``y``); level ``y``'s fault branch reads
level ``y - 1``.

Persistent faults (``terminate_p < 1``; Algorithm 2, lines 7-8) add the fault context of
:mod:`marta.tabular.operators`: one table :math:`Q_{1+i}` per agent for the steps with agent
``i`` faulty, updated from the same transition with the target
:math:`\\mathcal R + \\gamma (q\\, v_0(s') + (1 - q)\\, v_{1+i}(s'))`. The termination probability
``q`` is part of the fault model, not of the unknown dynamics, so the target takes its
expectation instead of a sampled termination.

Step sizes (Robbins-Monro, :math:`\\sum\\alpha = \\infty`, :math:`\\sum\\alpha^2 < \\infty`):
:math:`\\alpha_n = (1 + (1 - \\gamma) n)^{-\\omega}` with ``n`` the number of earlier updates of
the pair and :math:`\\omega \\in (1/2, 1]` (``step_exponent``; 1 is the "rescaled linear"
schedule, which avoids the slow :math:`1/n` rate of plain Q-learning for large
:math:`\\gamma`).

Sampling (``MartaQConfig.sampling``):

* ``"generative"``: every step updates every pair ``(s, a)`` from ``samples_per_pair`` fresh
  next states drawn from ``P(. | s, a)`` (a generative model; the average of the targets is one
  unbiased sample of the backup with lower variance).
* ``"trajectory"``: ``num_chains`` parallel trajectories; each picks a uniformly random joint
  action with probability ``epsilon`` and otherwise MARTA's executed action under the current
  ``Q`` (Proposition 2's switch at the top budget level, the Adversary's worst action, the team's
  best response), as in Algorithm 2. A chain's fault runs on until its Bernoulli(``terminate_p``)
  termination, without a new decision of the Switcher (lines 7-8). Chains visiting the same pair
  in one step are averaged into one update of that pair.
"""

from __future__ import annotations

import dataclasses
from typing import Literal, NamedTuple

import numpy as np

from marta.tabular.games import FaultGame
from marta.tabular.operators import (
    apply_contexts,
    check_budget,
    check_cost,
    check_terminate_p,
    continuation,
    fault_tables,
    num_contexts,
)
from marta.tabular.simulate import sample_next_state


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class MartaQConfig:
    """Settings of :func:`marta_q`."""

    num_steps: int = 2_000
    """number of update steps (each step updates every pair in ``generative`` mode)"""
    sampling: Literal["generative", "trajectory"] = "generative"
    """``generative``: all pairs each step; ``trajectory``: parallel exploring trajectories"""
    samples_per_pair: int = 16
    """next states drawn per pair and step in ``generative`` mode"""
    num_chains: int = 64
    """parallel trajectories in ``trajectory`` mode"""
    epsilon: float = 1.0
    """probability of a uniformly random joint action in ``trajectory`` mode"""
    step_exponent: float = 1.0
    """omega in alpha_n = (1 + (1 - gamma) n)^(-omega); must be in (0.5, 1]"""

    def __post_init__(self) -> None:
        for name in ("num_steps", "samples_per_pair", "num_chains"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: expected an int >= 1, got {value!r}")
        if self.sampling not in ("generative", "trajectory"):
            raise ValueError(
                f"sampling: expected one of ('generative', 'trajectory'), got {self.sampling!r}"
            )
        if not 0.0 <= self.epsilon <= 1.0:
            raise ValueError(f"epsilon: must be in [0, 1], got {self.epsilon}")
        if not 0.5 < self.step_exponent <= 1.0:
            raise ValueError(f"step_exponent: must be in (0.5, 1], got {self.step_exponent}")


class MartaQResult(NamedTuple):
    """Outcome of :func:`marta_q`.

    Attributes:
        q: ``f64[S, A_1, ..., A_N]`` (or ``[budget + 1, S, ...]``), the learned action values.
        v: ``f64[S]`` (or ``[budget + 1, S]``), the induced state values
            :math:`\\min\\{\\max Q, c + \\hat{\\mathcal M}Q\\}`.
        fault_q: ``f64[N, S, A_1, ..., A_N]`` (or ``[budget + 1, N, ...]``), the learned
            :math:`Q_{1+i}` of persistent faults (as ``Solution.fault_q``; every entry is ``q``
            for one-step faults).
        visits: ``int[S, A_1, ..., A_N]``, updates per pair.
        num_samples: number of sampled transitions used.
    """

    q: np.ndarray
    v: np.ndarray
    fault_q: np.ndarray
    visits: np.ndarray
    num_samples: int


def step_size(n: np.ndarray, gamma: float, exponent: float) -> np.ndarray:
    """Robbins-Monro step :math:`\\alpha_n = (1 + (1-\\gamma) n)^{-\\omega}` for the ``n``-th
    update (``n = 0, 1, ...``) of a pair."""
    return (1.0 + (1.0 - gamma) * n) ** (-exponent)


def marta_q(
    seed: int | np.random.Generator,
    game: FaultGame,
    cost: float,
    budget: int | None = None,
    config: MartaQConfig = MartaQConfig(),
    *,
    terminate_p: float = 1.0,
) -> MartaQResult:
    """Runs MARTA-Q on ``game`` (Algorithm 2 with exploring behaviour; Theorem 2).

    Args:
        seed: int seed or ``numpy.random.Generator`` (all sampling uses it).
        game: the fault game (rewards are its expected rewards ``R``).
        cost: activation cost ``c >= 0``.
        budget: ``None`` or the activation budget ``n >= 0`` (Theorem 4).
        config: :class:`MartaQConfig`.
        terminate_p: probability in ``[0, 1]`` that a fault ends after each faulty step (1:
            one-step faults).

    Returns:
        :class:`MartaQResult`.
    """
    cost = check_cost(cost)
    budget = check_budget(budget)
    terminate_p = check_terminate_p(terminate_p)
    budgeted = budget is not None
    rng = np.random.default_rng(seed)
    L = 1 if budget is None else budget + 1
    K = num_contexts(game, cost, terminate_p)
    S, A = game.num_states, game.num_joint_actions
    P, R = game.transition_flat, game.reward_flat
    q = np.zeros((L, K, S, A))
    visits = np.zeros((S, A), dtype=np.int64)
    num_samples = 0
    s = rng.integers(S, size=config.num_chains)
    running = np.full(config.num_chains, -1)  # the agent whose fault runs on in each chain
    for _ in range(config.num_steps):
        backup, values = apply_contexts(game, q, cost, budgeted=budgeted)
        w_next = continuation(values, terminate_p).reshape(L * K, S)  # [L * K, S']
        if config.sampling == "generative":
            counts = rng.multinomial(config.samples_per_pair, P)  # [S, A, S']
            mean_next = (counts @ w_next.T).transpose(2, 0, 1) / config.samples_per_pair
            target = R[None, None] + game.gamma * mean_next.reshape(L, K, S, A)
            alpha = step_size(visits, game.gamma, config.step_exponent)
            q += alpha * (target - q)
            visits += 1
            num_samples += S * A * config.samples_per_pair
        else:
            a, faulty_agent = _behaviour(rng, game, q, backup, s, running, config.epsilon)
            s_next = sample_next_state(rng, P[s, a])
            td_target = R[s, a][None] + game.gamma * w_next[:, s_next]  # [L * K, chains]
            flat = s * A + a
            hit, inverse, multiplicity = np.unique(flat, return_inverse=True, return_counts=True)
            summed = np.zeros((L * K, hit.size))
            np.add.at(summed, (slice(None), inverse), td_target)
            hs, ha = np.divmod(hit, A)
            alpha = step_size(visits[hs, ha], game.gamma, config.step_exponent)
            flat_q = q.reshape(L * K, S, A)
            flat_q[:, hs, ha] += alpha[None] * (summed / multiplicity[None] - flat_q[:, hs, ha])
            visits[hs, ha] += 1
            num_samples += config.num_chains
            if K > 1:
                ends = rng.random(s.size) < terminate_p
                running = np.where((faulty_agent >= 0) & ~ends, faulty_agent, -1)
            s = s_next
    _, values = apply_contexts(game, q, cost, budgeted=budgeted)
    fault_q = np.array(fault_tables(q, game.num_agents))  # [L, N, S, A], a copy
    squeeze = (lambda x: x) if budgeted else (lambda x: x[0])
    return MartaQResult(
        q=squeeze(q[:, 0].reshape(L, S, *game.action_shape)),
        v=squeeze(values[:, 0]),
        fault_q=squeeze(fault_q.reshape(L, game.num_agents, S, *game.action_shape)),
        visits=visits.reshape(S, *game.action_shape),
        num_samples=num_samples,
    )


def _behaviour(rng, game: FaultGame, q, backup, s, running, epsilon):
    """Flat joint actions for the chains at states ``s``, and the faulty agent of each chain
    (``-1``: none): epsilon-uniform, else MARTA's executed action (Algorithm 2, lines 5-15). A
    chain with a ``running`` fault keeps its faulty agent; the others follow Proposition 2's
    switch at the top budget level."""
    level = max(q.shape[0] - 2, 0)  # the level the top level's fault branch reads
    runs = running >= 0
    activate = ~runs & (backup.fault[-1, s] < backup.nominal[-1, s])
    agent = np.where(runs, running, backup.fault_per_agent[-1][:, s].argmin(0))  # [chains]
    f_i = backup.running_action[level][agent, s]
    # team's best response to agent i playing f_i in agent i's fault values: mask other a_i
    src = fault_tables(q, game.num_agents)[level, agent, s]  # [chains, A]
    actions = game.joint_actions(np.arange(game.num_joint_actions))  # [A, N]
    consistent = f_i[:, None] == actions[:, agent].T  # [chains, A]
    response = np.where(consistent, src, -np.inf).argmax(-1)
    faulty = runs | activate
    executed = np.where(faulty, response, q[-1, 0, s].argmax(-1))
    explore = rng.random(s.size) < epsilon
    actions = np.where(explore, rng.integers(game.num_joint_actions, size=s.size), executed)
    return actions, np.where(faulty, agent, -1)
