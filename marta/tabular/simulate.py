"""Monte-Carlo rollouts of a solved fault game (the Switcher, Adversary and team all playing the
policies of a :class:`~marta.tabular.solver.Solution`), vectorised over episodes.

Used to check that a budgeted Switcher never exceeds its budget (Theorem 4's constraint holds
almost surely) and that the exact team values agree with sampled returns, also for persistent
faults, which run on until a Bernoulli(``terminate_p``) termination (Algorithm 1, lines 7-8).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from marta.tabular.games import FaultGame
from marta.tabular.solver import Solution


class Episodes(NamedTuple):
    """Statistics of simulated episodes.

    Attributes:
        discounted_return: ``f64[E]``, :math:`\\sum_t \\gamma^t r_t` (team reward, no costs).
        activations: ``int[E]``, number of activations in each episode.
        faulty_steps: ``int[E]``, number of steps with a faulty agent (activations and the
            steps persistent faults ran on).
        discounted_faulty_steps: ``f64[E]``, :math:`\\sum_t \\gamma^t` over the faulty steps
            (its mean estimates ``Solution.expected_faulty_steps``).
        budget_left: ``int[E]``, remaining budget at the end (``-1`` without a budget).
    """

    discounted_return: np.ndarray
    activations: np.ndarray
    faulty_steps: np.ndarray
    discounted_faulty_steps: np.ndarray
    budget_left: np.ndarray


def sample_next_state(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One draw per row of ``probs`` ``f64[..., S]`` by inverse CDF: ``int[...]``."""
    cdf = np.cumsum(probs, axis=-1)
    u = rng.random(probs.shape[:-1])[..., None]
    return np.minimum((u >= cdf).sum(-1), probs.shape[-1] - 1)


def simulate(
    seed: int | np.random.Generator,
    game: FaultGame,
    solution: Solution,
    num_episodes: int,
    horizon: int,
    start_state: int | np.ndarray | None = None,
) -> Episodes:
    """Rolls out ``num_episodes`` episodes of ``horizon`` steps under the solved policies.

    At each step without a running fault the Switcher reads ``solution.switcher_action`` at the
    current (budget level, state); if it activates agent ``i`` the executed joint action is
    ``fault_response[i]`` and the remaining budget drops by one, otherwise the team plays
    ``team_action``. After each faulty step the fault ends with probability
    ``solution.terminate_p``; while it runs on, ``running_response[i]`` is executed and the
    Switcher does not decide.

    Args:
        seed: int seed or ``numpy.random.Generator``.
        game: the game the solution was computed for.
        solution: from :func:`~marta.tabular.solver.solve` (deterministic team actions).
        num_episodes: ``E >= 1``.
        horizon: steps per episode (``>= 1``).
        start_state: a state, ``int[E]`` states, or ``None`` for uniform random starts.

    Returns:
        :class:`Episodes`.

    Raises:
        ValueError: if the solution has no deterministic team actions (a stochastic fixed
            policy from :func:`~marta.tabular.solver.evaluate_policy`).
    """
    if np.any(solution.team_action < 0):
        raise ValueError("solution: simulate needs deterministic team actions")
    if num_episodes < 1 or horizon < 1:
        raise ValueError(f"num_episodes/horizon: must be >= 1, got {num_episodes}, {horizon}")
    rng = np.random.default_rng(seed)
    budgeted = solution.budget is not None
    lead = (lambda x: x) if budgeted else (lambda x: x[None])
    switcher = lead(solution.switcher_action)  # [L, S]
    executed = game.joint_index(lead(solution.executed_action))  # [L, S]
    if start_state is None:
        s = rng.integers(game.num_states, size=num_episodes)
    else:
        s = np.broadcast_to(np.asarray(start_state), (num_episodes,)).copy()
    y = np.full(num_episodes, solution.budget if budgeted else 0)
    running = np.full(num_episodes, -1)  # the agent whose fault runs on, -1 for none
    running_exec = game.joint_index(lead(solution.running_response))  # [L, N, S]
    ret, faulty_discounted = np.zeros(num_episodes), np.zeros(num_episodes)
    count = np.zeros(num_episodes, dtype=np.int64)
    faulty_count = np.zeros(num_episodes, dtype=np.int64)
    for t in range(horizon):
        runs = running >= 0
        activate = ~runs & (switcher[y, s] > 0)
        agent = np.where(runs, running, switcher[y, s] - 1)
        a = np.where(runs, running_exec[y, np.maximum(running, 0), s], executed[y, s])
        faulty = runs | activate
        ret += game.gamma**t * game.reward_flat[s, a]
        faulty_discounted += game.gamma**t * faulty
        count += activate
        faulty_count += faulty
        if budgeted:
            y = y - activate
        if solution.terminate_p < 1.0:
            ends = rng.random(num_episodes) < solution.terminate_p
            running = np.where(faulty & ~ends, agent, -1)
        s = sample_next_state(rng, game.transition_flat[s, a])
    budget_left = y if budgeted else np.full(num_episodes, -1)
    return Episodes(ret, count, faulty_count, faulty_discounted, budget_left)
