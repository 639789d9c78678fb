"""An example marta plugin: a new environment, a new mixer with the learner that uses it, and
a new fault policy, each registered by name (docs/extending.md walks through this file).

    marta --plugin examples/corridor_plugin.py envs
    marta --plugin examples/corridor_plugin.py train --env corridor-3 --learner wvdn \\
        --method marta --fault-policy sluggish --fault-p 0.1 --steps 20000 --out runs/corridor

* ``corridor-3``: three agents walk down a corridor of `length` cells to its end; every step
  costs each agent that has not arrived 1/N; the episode ends when all have arrived. A
  faulty agent that waits or walks back delays the whole team.
* ``wvdn``: VDN with learned non-negative agent weights, Q_tot = sum_i softplus(w_i) q_i (the
  value-decomposition learner with a registered mixer).
* ``sluggish``: a faulty agent waits (action 0) with probability 1/2, else acts uniformly.
"""

from __future__ import annotations

import dataclasses
import math

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax import struct

import marta.envs
import marta.faults
import marta.learners
from marta.faults import FaultConfig

WAIT, FORWARD, BACK = 0, 1, 2


# ----------------------------------------------------------------------------- environment
@struct.dataclass
class CorridorState:
    position: jax.Array  # i32[N] cell of every agent, 0 .. length - 1


class Corridor(marta.envs.MultiAgentEnv):
    """N agents start at cell 0 and walk to cell `length` - 1, where they stay."""

    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Config:
        num_agents: int = 3
        """team size"""
        length: int = 6
        """cells in the corridor (>= 2)"""
        max_steps: int = 20
        """time limit"""

        def __post_init__(self) -> None:
            if self.num_agents < 1 or self.length < 2 or self.max_steps < 1:
                raise ValueError(
                    f"corridor needs num_agents >= 1, length >= 2, max_steps >= 1: {self}"
                )

    def __init__(self, **kwargs) -> None:
        self.config = self.Config(**kwargs)
        self.num_agents = self.config.num_agents
        self.num_actions = 3  # WAIT, FORWARD, BACK
        self.obs_dim = 2  # own position, share of the team that has arrived
        self.state_dim = self.num_agents  # every agent's position
        self.max_steps = self.config.max_steps
        self.end = self.config.length - 1

    def reset_env(self, key: jax.Array) -> CorridorState:
        del key
        return CorridorState(position=jnp.zeros(self.num_agents, jnp.int32))

    def step_env(
        self, key: jax.Array, state: CorridorState, actions: jax.Array
    ) -> tuple[CorridorState, jax.Array, jax.Array, dict]:
        del key
        arrived = state.position == self.end
        move = jnp.where(actions == FORWARD, 1, jnp.where(actions == BACK, -1, 0))
        position = jnp.where(arrived, self.end, jnp.clip(state.position + move, 0, self.end))
        waiting = jnp.sum(position != self.end)
        reward = -waiting / self.num_agents
        return CorridorState(position=position), reward, waiting == 0, {}

    def observe(self, state: CorridorState) -> jax.Array:
        own = state.position / self.end
        arrived = jnp.mean(state.position == self.end)
        return jnp.stack([own, jnp.full_like(own, arrived)], axis=-1).astype(jnp.float32)

    def global_state_of(self, state: CorridorState) -> jax.Array:
        return (state.position / self.end).astype(jnp.float32)


marta.envs.register("corridor-3", Corridor, "3 agents walk down a 6-cell corridor", num_agents=3)


# ----------------------------------------------------------------------------- learner
class WeightedSumMixer(nn.Module):
    """Q_tot = sum_i softplus(w_i) q_i: VDN with learned non-negative agent weights (so
    dQ_tot/dq_i >= 0, as QMIX requires); the weights start at 1."""

    @nn.compact
    def __call__(self, q_i: jax.Array, state: jax.Array) -> jax.Array:
        del state
        one = math.log(math.e - 1.0)  # softplus(one) = 1
        w = self.param("w", nn.initializers.constant(one), (q_i.shape[-1],))
        return jnp.sum(jax.nn.softplus(w) * q_i, axis=-1, keepdims=True)


marta.learners.register_mixer("weighted-sum", WeightedSumMixer)
marta.learners.register("wvdn", mixer="weighted-sum", description="VDN with learned agent weights")


# ----------------------------------------------------------------------------- fault policy
def sluggish_actions(key: jax.Array, avail: jax.Array, config: FaultConfig) -> jax.Array:
    """i32[N]: every agent's fault action, WAIT with probability 1/2 (where available), else
    uniform over its available actions."""
    del config
    key_coin, key_action = jax.random.split(key)
    uniform = marta.faults.uniform_actions(key_action, avail)
    wait = jnp.where(avail[..., WAIT], WAIT, uniform)
    return jnp.where(jax.random.bernoulli(key_coin, 0.5, uniform.shape), wait, uniform)


marta.faults.register("sluggish", sluggish_actions, "waits half the time, else acts uniformly")
