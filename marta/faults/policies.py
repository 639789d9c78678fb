"""Fault policies sigma^i: how a faulty agent acts ("Experiment Configurations", Fault Policy).

Each policy proposes a fault action f^i for *every* agent, i32[N]; the `FaultWrapper` then
executes f^i only for the faulty agent (a = (f^i, a^{-i})). Two kinds:

* self-contained policies ("uniform", "stuck") that the wrapper samples itself from the key
  and the available-action mask;
* policies that need the learners ("worst_case" needs the team's Q-values, "learned" is the
  adversary's own action): the caller computes f and passes it as `fault_actions`; for
  worst-case that is `worst_case_actions(key, q, temperature, avail)`.

`FAULT_POLICIES` maps each name of `FaultConfig.policy` to a `FaultPolicy`; `register` fills
it, so a name is written once (a test checks the built-ins match the `FaultPolicyName`
literal). A plugin registers its own self-contained policies the same way
(docs/extending.md); `FaultConfig` accepts every registered name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from marta.faults.config import FaultConfig
from marta.validation import lookup

#: sample(key, avail bool[N, A], config) -> fault actions i32[N]
SampleFn = Callable[[jax.Array, jax.Array, FaultConfig], jax.Array]


class FaultPolicy(NamedTuple):
    """A registered fault policy.

    Attributes:
        sample: draws fault actions for every agent from (key, avail, config), or None when
            the caller must pass them (`fault_actions=`) because they come from a learner.
        description: one line for docs and error messages.
    """

    sample: SampleFn | None
    description: str

    @property
    def needs_fault_actions(self) -> bool:
        """True when `FaultWrapper.step` must be given `fault_actions`."""
        return self.sample is None


FAULT_POLICIES: dict[str, FaultPolicy] = {}


def register(name: str, sample: SampleFn | None, description: str) -> None:
    """Registers a fault policy under `name`; a duplicate name is a programming error."""
    if name in FAULT_POLICIES:
        raise ValueError(f"fault policy {name!r} is already registered")
    FAULT_POLICIES[name] = FaultPolicy(sample=sample, description=description)


def get_policy(name: str) -> FaultPolicy:
    """The registered policy `name`; an unknown name raises a ValueError listing the valid ones
    (`marta.validation.lookup`)."""
    return lookup(FAULT_POLICIES, name, "fault policy")


def _masked_categorical(key: jax.Array, logits: jax.Array, avail: jax.Array) -> jax.Array:
    return jax.random.categorical(key, jnp.where(avail, logits, -jnp.inf)).astype(jnp.int32)


def uniform_actions(key: jax.Array, avail: jax.Array) -> jax.Array:
    """Uniform policy: each agent samples uniformly among its available actions.

    Args:
        key: PRNG key.
        avail: bool[..., N, A] available actions (at least one per agent).

    Returns:
        i32[..., N] fault actions.
    """
    return _masked_categorical(key, jnp.zeros(avail.shape, jnp.float32), avail)


def worst_case_actions(
    key: jax.Array, q: jax.Array, temperature: float, avail: jax.Array
) -> jax.Array:
    r"""Worst-case policy: samples f^i \sim \mathrm{softmax}(-Q^i / T) over available actions.

    The paper's "softmax(-Q*)" (Fault Policy, worst-case), with Q* the evaluated team's own
    per-agent action-values (docs/faults.md); the temperature T is our addition (T = 1 is the
    paper's policy, T -> 0 the greedy argmin).

    .. math:: \sigma^i(f \mid s) = \frac{\exp(-Q^i(s, f)/T)\,[f \text{ available}]}
        {\sum_{b \text{ available}} \exp(-Q^i(s, b)/T)}

    Args:
        key: PRNG key.
        q: f32[..., N, A] the team's action-values Q^i.
        temperature: T > 0.
        avail: bool[..., N, A] available actions.

    Returns:
        i32[..., N] fault actions.
    """
    return _masked_categorical(key, -jnp.asarray(q, jnp.float32) / temperature, avail)


def stuck_actions(avail: jax.Array, stuck_action: int) -> jax.Array:
    """Stuck policy: a faulty agent repeats `stuck_action` (e.g. a jammed actuator).

    Where that action is unavailable, the agent's lowest-index available action is used, so a
    fault never executes an action the environment does not allow.

    Args:
        avail: bool[..., N, A] available actions.
        stuck_action: the repeated action, < A.

    Returns:
        i32[..., N] fault actions.
    """
    first_avail = jnp.argmax(avail, axis=-1).astype(jnp.int32)
    return jnp.where(avail[..., stuck_action], jnp.int32(stuck_action), first_avail)


register(
    "uniform",
    lambda key, avail, config: uniform_actions(key, avail),
    "uniform over the available actions (the paper's baselines)",
)
register(
    "worst_case",
    None,
    "softmax(-Q / temperature) of the team's Q-values; pass worst_case_actions(...)",
)
register("learned", None, "the adversary's actions; pass them as fault_actions")
register(
    "stuck",
    lambda key, avail, config: stuck_actions(avail, config.stuck_action),
    "repeats config.stuck_action",
)
