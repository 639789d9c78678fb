"""Finite fault games: the dec-MDP of the paper's "MARTA Framework" section, tabular.

A :class:`FaultGame` is the cooperative Markov game
:math:`\\langle \\mathcal N, \\mathcal S, (\\mathcal A_i), P, \\mathcal R, \\gamma\\rangle` with a
*team* reward. The Switcher and the Adversary of MARTA are not part of the data: they are added
by the solver (:mod:`marta.tabular.solver`) through the intervention operator
:math:`\\hat{\\mathcal M}`.

Array layout (one axis per agent, joint actions in C order):

* ``P``: ``[S, A_1, ..., A_N, S]``, ``P[s, a_1, ..., a_N, s']`` =
  :math:`P(s' \\mid s, \\boldsymbol a)`.
* ``R``: ``[S, A_1, ..., A_N]``, the expected team reward :math:`\\mathcal R(s, \\boldsymbol a)`.

Flat views ``transition_flat`` ``[S, A, S]`` and ``reward_flat`` ``[S, A]`` with
``A = prod(A_i)`` (index = ``np.ravel_multi_index(actions, action_shape)``) are what the
vectorised operators use.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

#: tolerance on the row sums of ``P``
_PROB_ATOL = 1e-8


def _frozen(x: np.ndarray) -> np.ndarray:
    x = np.array(x, dtype=np.float64, copy=True)
    x.setflags(write=False)
    return x


@dataclasses.dataclass(frozen=True, eq=False)
class FaultGame:
    """A finite cooperative Markov game with a team reward, validated on construction.

    Attributes:
        P: transition probabilities, ``f64[S, A_1, ..., A_N, S]``; non-negative, rows sum to 1.
        R: expected team reward, ``f64[S, A_1, ..., A_N]``; finite.
        gamma: discount factor, ``0 <= gamma < 1``.
        name: short label used by the CLI.
        state_labels: optional readable name per state (length ``S``).
        action_labels: optional readable name per action index (shared by all agents; length
            ``max(A_i)``).

    Raises:
        ValueError: naming ``P``, ``R``, ``gamma``, ``state_labels`` or ``action_labels``.
    """

    P: np.ndarray
    R: np.ndarray
    gamma: float
    name: str = "game"
    state_labels: tuple[str, ...] | None = None
    action_labels: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        P = np.asarray(self.P)
        R = np.asarray(self.R)
        if P.ndim < 3:
            raise ValueError(
                f"P: expected shape [S, A_1, ..., A_N, S] with N >= 1 agents, got shape {P.shape}"
            )
        if P.shape[0] != P.shape[-1]:
            raise ValueError(
                f"P: first and last axes are both states and must agree, got shape {P.shape}"
            )
        if min(P.shape) < 1:
            raise ValueError(f"P: every axis needs at least one entry, got shape {P.shape}")
        if not np.issubdtype(P.dtype, np.number) or not np.all(np.isfinite(P)):
            raise ValueError("P: entries must be finite numbers")
        if np.any(P < 0):
            raise ValueError(f"P: probabilities must be non-negative (min {P.min():.3g})")
        sums = P.sum(axis=-1)
        if not np.allclose(sums, 1.0, rtol=0.0, atol=_PROB_ATOL):
            worst = float(np.abs(sums - 1.0).max())
            raise ValueError(
                f"P: P[s, a, :] must sum to 1 for every (s, a) (largest deviation {worst:.3g})"
            )
        if R.shape != P.shape[:-1]:
            raise ValueError(
                f"R: expected shape P.shape[:-1] = {P.shape[:-1]} ([S, A_1, ..., A_N]), "
                f"got {R.shape}"
            )
        if not np.issubdtype(R.dtype, np.number) or not np.all(np.isfinite(R)):
            raise ValueError("R: entries must be finite numbers")
        gamma = self.gamma
        if isinstance(gamma, bool) or not isinstance(gamma, (int, float, np.floating)):
            raise ValueError(f"gamma: expected a float in [0, 1), got {gamma!r}")
        if not 0.0 <= float(gamma) < 1.0:
            raise ValueError(f"gamma: must satisfy 0 <= gamma < 1, got {gamma}")
        if self.state_labels is not None and len(self.state_labels) != P.shape[0]:
            raise ValueError(
                f"state_labels: expected {P.shape[0]} labels, got {len(self.state_labels)}"
            )
        if self.action_labels is not None and len(self.action_labels) < max(P.shape[1:-1]):
            raise ValueError(
                f"action_labels: expected at least {max(P.shape[1:-1])} labels, "
                f"got {len(self.action_labels)}"
            )
        object.__setattr__(self, "P", _frozen(P))
        object.__setattr__(self, "R", _frozen(R))
        object.__setattr__(self, "gamma", float(gamma))

    # ----------------------------------------------------------------- derived sizes
    @property
    def num_states(self) -> int:
        """``S``."""
        return self.P.shape[0]

    @property
    def action_shape(self) -> tuple[int, ...]:
        """``(A_1, ..., A_N)``."""
        return tuple(self.P.shape[1:-1])

    @property
    def num_agents(self) -> int:
        """``N``."""
        return len(self.action_shape)

    @property
    def num_joint_actions(self) -> int:
        """``A = prod(A_i)``."""
        return int(np.prod(self.action_shape))

    @property
    def transition_flat(self) -> np.ndarray:
        """``P`` as ``f64[S, A, S]`` (joint actions flattened in C order)."""
        return self.P.reshape(self.num_states, self.num_joint_actions, self.num_states)

    @property
    def reward_flat(self) -> np.ndarray:
        """``R`` as ``f64[S, A]``."""
        return self.R.reshape(self.num_states, self.num_joint_actions)

    def joint_index(self, actions: Sequence[int] | np.ndarray) -> np.ndarray:
        """Flat joint-action index of per-agent actions ``[..., N]``."""
        actions = np.asarray(actions)
        return np.ravel_multi_index(tuple(np.moveaxis(actions, -1, 0)), self.action_shape)

    def joint_actions(self, index: np.ndarray | int) -> np.ndarray:
        """Per-agent actions ``[..., N]`` of flat joint-action indices ``[...]``."""
        return np.stack(np.unravel_index(np.asarray(index), self.action_shape), axis=-1)

    def state_label(self, s: int) -> str:
        return self.state_labels[s] if self.state_labels else str(s)

    def action_label(self, a: int) -> str:
        return self.action_labels[a] if self.action_labels else str(a)


# --------------------------------------------------------------------------- random games
def random_game(
    seed: int | np.random.Generator,
    num_states: int,
    num_actions: int | Sequence[int],
    num_agents: int | None = None,
    gamma: float = 0.9,
    *,
    concentration: float = 1.0,
    reward_scale: float = 1.0,
) -> FaultGame:
    """A random fault game: ``P[s, a, :] ~ Dirichlet(concentration)``, ``R ~ U[0, reward_scale]``.

    Args:
        seed: an int seed or a ``numpy.random.Generator`` (the only source of randomness).
        num_states: ``S >= 1``.
        num_actions: actions per agent, an int (same for every agent) or one int per agent.
        num_agents: ``N``; required when ``num_actions`` is an int.
        gamma: discount factor in ``[0, 1)``.
        concentration: Dirichlet concentration (> 0); small values give near-deterministic
            transitions.
        reward_scale: rewards are drawn uniformly from ``[0, reward_scale]``.

    Returns:
        A validated :class:`FaultGame` named ``"random"``.
    """
    if isinstance(num_actions, (int, np.integer)):
        if num_agents is None or num_agents < 1:
            raise ValueError(f"num_agents: expected an int >= 1, got {num_agents!r}")
        shape = (int(num_actions),) * int(num_agents)
    else:
        shape = tuple(int(a) for a in num_actions)
        if num_agents is not None and num_agents != len(shape):
            raise ValueError(f"num_agents: {num_agents} disagrees with num_actions {shape}")
    if num_states < 1:
        raise ValueError(f"num_states: expected an int >= 1, got {num_states}")
    if not shape or min(shape) < 1:
        raise ValueError(f"num_actions: expected ints >= 1, got {num_actions!r}")
    if concentration <= 0:
        raise ValueError(f"concentration: must be > 0, got {concentration}")
    rng = np.random.default_rng(seed)
    P = rng.dirichlet(np.full(num_states, concentration), size=(num_states, *shape))
    R = reward_scale * rng.random((num_states, *shape))
    return FaultGame(P, R, gamma, name="random")


# --------------------------------------------------------------------------- named games
class GameEntry(NamedTuple):
    """A registered example game: a builder taking keyword overrides, and its summary."""

    build: Callable[..., FaultGame]
    description: str


#: name -> example game; filled by :func:`register`
GAMES: dict[str, GameEntry] = {}


def register(name: str) -> Callable[[Callable[..., FaultGame]], Callable[..., FaultGame]]:
    """Registers a game builder under ``name``; the first docstring line is its description."""

    def wrap(build: Callable[..., FaultGame]) -> Callable[..., FaultGame]:
        if name in GAMES:
            raise ValueError(f"name: game {name!r} is already registered")
        GAMES[name] = GameEntry(build, (build.__doc__ or "").strip().splitlines()[0])
        return build

    return wrap


def make_game(name: str, **overrides) -> FaultGame:
    """Builds the registered game ``name`` with keyword overrides (e.g. ``gamma=0.8``).

    Raises:
        ValueError: if ``name`` is unknown; the message lists the registered names.
    """
    if name not in GAMES:
        raise ValueError(f"name: unknown game {name!r}; registered games: {sorted(GAMES)}")
    return GAMES[name].build(**overrides)


def _all_agents(shape: tuple[int, ...], predicate: Callable[[np.ndarray], np.ndarray]):
    """Evaluates ``predicate(actions[..., N])`` on the grid of all joint actions."""
    grid = np.stack(np.meshgrid(*[np.arange(a) for a in shape], indexing="ij"), axis=-1)
    return predicate(grid)


@register("corridor")
def corridor(length: int = 5, num_agents: int = 2, gamma: float = 0.9) -> FaultGame:
    """Agents carry an object down a corridor; one pull moves it back, all must push to advance.

    States are the object's cell ``0..length-1``. Actions: 0 ``wait``, 1 ``push``, 2 ``pull``.
    If any agent pulls the object moves back one cell (not below 0); otherwise, if every agent
    pushes, it moves forward; delivering from the last cell pays reward 1 and restarts at cell 0.
    Deterministic. A faulty agent that pulls costs the team ground, and the loss is worth more
    the closer the object is to delivery, so with a moderate cost the Switcher activates only
    near the end of the corridor.
    """
    if length < 2:
        raise ValueError(f"length: expected an int >= 2, got {length}")
    shape = (3,) * num_agents
    all_push = _all_agents(shape, lambda a: np.all(a == 1, axis=-1))
    any_pull = _all_agents(shape, lambda a: np.any(a == 2, axis=-1))
    P = np.zeros((length, *shape, length))
    R = np.zeros((length, *shape))
    for s in range(length):
        forward = 0 if s == length - 1 else s + 1
        nxt = np.where(any_pull, max(s - 1, 0), np.where(all_push, forward, s))
        P[(s, ...)] = np.eye(length)[nxt]
        if s == length - 1:
            R[s] = np.where(all_push & ~any_pull, 1.0, 0.0)
    return FaultGame(
        P,
        R,
        gamma,
        name="corridor",
        state_labels=tuple(f"cell{s}" for s in range(length)),
        action_labels=("wait", "push", "pull"),
    )


@register("critical-state")
def critical_state(
    num_states: int = 6,
    critical: Sequence[int] = (3,),
    num_agents: int = 2,
    num_actions: int = 2,
    slip: float = 0.1,
    gamma: float = 0.9,
) -> FaultGame:
    """A cycle of states where faults only matter at the few critical states.

    The system moves ``s -> s+1 (mod S)`` with probability ``1 - slip`` and stays otherwise,
    whatever the agents do. Ordinary states pay 0.5 for every joint action, so a malfunction
    there is harmless. A critical state pays 1 if every agent plays action 0 (``careful``) and 0
    otherwise, so one faulty agent costs the team 1. For ``0 < cost < 1`` the Switcher activates
    exactly at the critical states (and nowhere when ``cost >= 1`` by enough margin).
    """
    critical = tuple(int(c) for c in critical)
    if not critical or min(critical) < 0 or max(critical) >= num_states:
        raise ValueError(f"critical: expected states in [0, {num_states}), got {critical}")
    if not 0.0 <= slip <= 1.0:
        raise ValueError(f"slip: must be in [0, 1], got {slip}")
    shape = (num_actions,) * num_agents
    careful = _all_agents(shape, lambda a: np.all(a == 0, axis=-1))
    P = np.zeros((num_states, *shape, num_states))
    R = np.full((num_states, *shape), 0.5)
    for s in range(num_states):
        P[(s, ...) + (s,)] += slip
        P[(s, ...) + ((s + 1) % num_states,)] += 1.0 - slip
    for c in critical:
        R[c] = np.where(careful, 1.0, 0.0)
    labels = tuple("critical" if s in critical else f"s{s}" for s in range(num_states))
    return FaultGame(
        P,
        R,
        gamma,
        name="critical-state",
        state_labels=labels,
        action_labels=("careful", *(f"act{k}" for k in range(1, num_actions))),
    )


@register("coordination")
def coordination(num_agents: int = 2, num_actions: int = 3, gamma: float = 0.9) -> FaultGame:
    """Agents must pick the same convention; better conventions pay more; a mismatch desyncs.

    States: 0 ``synced``, 1 ``desynced``. In ``synced``, if all agents pick the same action ``k``
    the team earns ``payoff[k]`` (linearly from 1.0 for ``k=0`` down to 0.5 for the last action)
    and stays synced; any mismatch earns 0 and moves to ``desynced``. In ``desynced`` the reward
    is 0; agreeing on any action returns to ``synced``. A team that best-responds to a faulty
    agent (Theorem 1) follows its convention and keeps earning at least 0.5; a fixed team
    policy (Proposition 1) does not, so the two switcher problems differ here.
    """
    if num_actions < 2:
        raise ValueError(f"num_actions: expected an int >= 2, got {num_actions}")
    shape = (num_actions,) * num_agents
    payoff = np.linspace(1.0, 0.5, num_actions)
    agree = _all_agents(shape, lambda a: np.all(a == a[..., :1], axis=-1))
    first = _all_agents(shape, lambda a: a[..., 0])
    P = np.zeros((2, *shape, 2))
    P[0] = np.eye(2)[np.where(agree, 0, 1)]
    P[1] = np.eye(2)[np.where(agree, 0, 1)]
    R = np.zeros((2, *shape))
    R[0] = np.where(agree, payoff[first], 0.0)
    return FaultGame(
        P,
        R,
        gamma,
        name="coordination",
        state_labels=("synced", "desynced"),
        action_labels=tuple(f"conv{k}" for k in range(num_actions)),
    )
