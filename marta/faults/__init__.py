"""Fault injection: who fails, how they act, for how long, within what budget.

    >>> import jax, marta.envs
    >>> from marta.faults import FaultConfig, FaultWrapper
    >>> env = FaultWrapper(marta.envs.make("matrix-climbing"), FaultConfig(p=0.2))
    >>> obs, state = env.reset(jax.random.key(0))
    >>> obs, state, reward, done, info = env.step(jax.random.key(1), state, jax.numpy.zeros(2, int))

See docs/faults.md (semantics, paper quotes) and docs/glossary.md (vocabulary).
"""

from marta.faults.config import BudgetScope, Duration, FaultConfig, FaultPolicyName, Selection
from marta.faults.policies import (
    FAULT_POLICIES,
    FaultPolicy,
    get_policy,
    register,
    stuck_actions,
    uniform_actions,
    worst_case_actions,
)
from marta.faults.wrapper import NO_AGENT, UNLIMITED, FaultEnvState, FaultState, FaultWrapper

__all__ = [
    "FAULT_POLICIES",
    "NO_AGENT",
    "UNLIMITED",
    "BudgetScope",
    "Duration",
    "FaultConfig",
    "FaultEnvState",
    "FaultPolicy",
    "FaultPolicyName",
    "FaultState",
    "FaultWrapper",
    "Selection",
    "get_policy",
    "register",
    "stuck_actions",
    "uniform_actions",
    "worst_case_actions",
]
