"""`FaultConfig`: who fails, how the faulty agent acts, for how long and within what budget.

The paper's fault injection ("Experiment Configurations") has two parts: *who* malfunctions
(agent selection: simple or complex) and *how* the faulty agent behaves (the fault policy
sigma^i: uniform or worst-case). Algorithm 1 adds how long a malfunction lasts (a Bernoulli
termination), Algorithm 3 and the section "MARTA with a Malfunction Budget" add the budget.
Every one of those choices is a field here; docs/faults.md explains each with the paper's
words, and docs/glossary.md fixes the vocabulary.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Literal, get_args

Selection = Literal["simple", "complex"]
Duration = Literal["step", "persistent"]
#: the built-in fault policies; a plugin may register more (`marta.faults.register`)
FaultPolicyName = Literal["uniform", "worst_case", "learned", "stuck"]
BudgetScope = Literal["episode", "run"]


def _check_choice(field: str, value: object, literal: object) -> None:
    allowed = get_args(literal)
    if value not in allowed:
        raise ValueError(f"{field} must be one of {', '.join(map(repr, allowed))}; got {value!r}")


def _check_policy(name: object) -> None:
    from marta.faults.policies import get_policy  # it imports this module

    if not isinstance(name, str):
        raise ValueError(f"policy must be the name of a fault policy; got {name!r}")
    try:
        get_policy(name)
    except ValueError as error:
        raise ValueError(f"policy must be a registered fault policy: {error}") from None


def _is_real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_probability(field: str, value: float) -> None:
    if not (_is_real(value) and 0.0 <= value <= 1.0):
        raise ValueError(f"{field} must be a probability in [0, 1]; got {value!r}")


def _check_index(field: str, value: object, *, optional: bool = False) -> None:
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 0
    if not ok and not (optional and value is None):
        none = " or None" if optional else ""
        raise ValueError(f"{field} must be an int >= 0{none}; got {value!r}")


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class FaultConfig:
    """Fault-injection settings of a `FaultWrapper` (hashable, so usable as a jit static).

    The defaults are the paper's baseline injection of Table 1's LBF rows apart from `p`:
    complex selection with a uniform F, a uniform-random faulty agent, one-step faults.
    """

    selection: Selection = "complex"
    """who malfunctions at a random onset: "simple" = always the same agent (`agent`),
    "complex" = an agent drawn from the distribution F (`weights`) at every onset"""
    agent: int | None = 0
    """simple selection: index of the agent that malfunctions; None = draw it from F once per
    episode, at reset, and keep it for the whole episode (ignored by complex selection)"""
    weights: tuple[float, ...] | None = None
    """the distribution F over agents (unnormalised, non-negative, length N); None = uniform.
    Complex selection draws from it at each onset; simple selection with agent=None once per
    episode (a list, e.g. from YAML, is stored as a tuple). Agents with weight 0 are never
    drawn, and complex selection never offers them to the switcher either"""
    p: float = 0.1
    """per-step onset probability of a random (non-switcher) fault, in [0, 1]"""
    duration: Duration = "step"
    """"step" = a fault lasts exactly the step of its onset (the paper's text); "persistent" =
    it lasts until a Bernoulli(`terminate_p`) termination checked after every faulty step
    (Algorithm 1, lines 7-9)"""
    terminate_p: float = 0.5
    """persistent duration: per-step termination probability in [0, 1]; the duration is
    Geometric(terminate_p) with mean 1 / terminate_p steps (0 = until the episode ends)"""
    policy: str = "uniform"
    """fault policy sigma^i, a name registered in `marta.faults.FAULT_POLICIES`: "uniform"
    (uniform over available actions), "worst_case" (softmax(-Q / temperature) of the team's
    own Q-values, computed by the caller), "learned" (an adversary's actions, given by the
    caller), "stuck" (`stuck_action`), or one a plugin registered (docs/extending.md)"""
    temperature: float = 1.0
    """worst_case: softmax temperature T > 0 of softmax(-Q / T)"""
    stuck_action: int = 0
    """stuck: the action a faulty agent repeats (falls back to its lowest-index available
    action where that one is unavailable)"""
    budget: int | None = None
    """most activations allowed per `budget_scope` (>= 0); None = unlimited"""
    budget_scope: BudgetScope = "episode"
    """"episode" = the budget is refilled at every episode start; "run" = one budget for the
    wrapper's whole life (the paper's budget n counts over all training episodes)"""

    def __post_init__(self) -> None:
        _check_choice("selection", self.selection, Selection)
        _check_choice("duration", self.duration, Duration)
        _check_policy(self.policy)
        _check_choice("budget_scope", self.budget_scope, BudgetScope)
        _check_index("agent", self.agent, optional=True)
        _check_probability("p", self.p)
        _check_probability("terminate_p", self.terminate_p)
        _check_index("stuck_action", self.stuck_action)
        _check_index("budget", self.budget, optional=True)
        t = self.temperature
        if not (_is_real(t) and math.isfinite(t) and t > 0):
            raise ValueError(f"temperature must be a finite float > 0; got {t!r}")
        if isinstance(self.weights, list):
            object.__setattr__(self, "weights", tuple(self.weights))
        if self.weights is not None:
            w = self.weights
            ok = isinstance(w, tuple) and len(w) > 0
            ok = ok and all(_is_real(x) and math.isfinite(x) and x >= 0 for x in w)
            if not ok or sum(w) <= 0:
                raise ValueError(
                    "weights must be None or a non-empty tuple of finite floats >= 0 with a "
                    f"positive sum; got {w!r}"
                )

    def validate_for(self, num_agents: int, num_actions: int) -> None:
        """Checks the fields that depend on the wrapped environment's sizes.

        Raises:
            ValueError: `agent` >= num_agents, `weights` of the wrong length or
                `stuck_action` >= num_actions (the message names the field).
        """
        if self.agent is not None and self.agent >= num_agents:
            raise ValueError(
                f"agent must be in 0..{num_agents - 1} (the env has {num_agents} agents); "
                f"got {self.agent}"
            )
        if self.weights is not None and len(self.weights) != num_agents:
            raise ValueError(
                f"weights must have one entry per agent ({num_agents}); got {len(self.weights)}"
            )
        if self.stuck_action >= num_actions:
            raise ValueError(
                f"stuck_action must be in 0..{num_actions - 1} (the env has {num_actions} "
                f"actions); got {self.stuck_action}"
            )

    def selection_weights(self, num_agents: int) -> tuple[float, ...]:
        """The normalised distribution F over agents (uniform when `weights` is None)."""
        w = self.weights if self.weights is not None else (1.0,) * num_agents
        total = float(sum(w))
        return tuple(float(x) / total for x in w)

    @property
    def mean_duration(self) -> float:
        """Expected steps per fault: 1 for "step", 1 / terminate_p for "persistent"."""
        if self.duration == "step":
            return 1.0
        return math.inf if self.terminate_p == 0 else 1.0 / self.terminate_p
