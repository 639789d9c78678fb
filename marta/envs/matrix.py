"""Repeated cooperative matrix games: tiny, exactly understood environments for tests.

Every step all agents play one round of a common-payoff matrix game; the episode lasts
`max_steps` rounds. Observations are the agent id one-hot and the normalised round index,
so the optimal joint action is learnable by value-decomposition methods. The default
payoff is the two-agent *climbing game* (Claus & Boutilier, 1998), a standard
coordination test for IQL/VDN/QMIX: the optimum (11) sits next to heavy penalties (-30).
An action outside [0, num_actions) is clipped to the nearest valid one.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from marta.envs.base import EnvStep, MultiAgentEnv
from marta.envs.registry import register

CLIMBING = ((11.0, -30.0, 0.0), (-30.0, 7.0, 6.0), (0.0, 0.0, 5.0))
PENALTY = ((10.0, 0.0, -10.0), (0.0, 2.0, 0.0), (-10.0, 0.0, 10.0))


@struct.dataclass
class MatrixState:
    round: jax.Array  # i32[]


class MatrixGame(MultiAgentEnv):
    """Repeated common-payoff matrix game; payoff[a_1, ..., a_N] is the team reward."""

    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Config:
        payoff: tuple = CLIMBING
        """nested tuple of shape [A] * N: team reward of each joint action"""
        max_steps: int = 10
        """rounds per episode"""

        def __post_init__(self) -> None:
            arr = np.asarray(self.payoff, dtype=np.float32)
            if arr.ndim < 1 or len(set(arr.shape)) != 1:
                raise ValueError(f"payoff must have shape [A]*N, got {arr.shape}")
            if self.max_steps < 1:
                raise ValueError(f"max_steps must be >= 1, got {self.max_steps}")

    def __init__(self, **kwargs) -> None:
        self.config = self.Config(**kwargs)
        self.payoff = jnp.asarray(self.config.payoff, jnp.float32)
        self.num_agents = self.payoff.ndim
        self.num_actions = self.payoff.shape[0]
        self.obs_dim = self.num_agents + 1
        self.state_dim = 1
        self.max_steps = self.config.max_steps

    def reset_env(self, key: jax.Array) -> MatrixState:
        del key
        return MatrixState(round=jnp.zeros((), jnp.int32))

    def step_env(self, key: jax.Array, state: MatrixState, actions: jax.Array) -> EnvStep:
        del key
        actions = jnp.clip(actions, 0, self.num_actions - 1)  # out of range: the nearest action
        reward = self.payoff[tuple(actions[i] for i in range(self.num_agents))]
        return MatrixState(round=state.round + 1), reward, jnp.zeros((), bool), {}

    def observe(self, state: MatrixState) -> jax.Array:
        t = jnp.full((self.num_agents, 1), state.round / self.max_steps, jnp.float32)
        return jnp.concatenate([jnp.eye(self.num_agents, dtype=jnp.float32), t], axis=-1)

    def global_state_of(self, state: MatrixState) -> jax.Array:
        return jnp.reshape(state.round / self.max_steps, (1,)).astype(jnp.float32)


register("matrix-climbing", MatrixGame, "2-agent climbing game, 10 rounds", payoff=CLIMBING)
register("matrix-penalty", MatrixGame, "2-agent penalty game (k=-10), 10 rounds", payoff=PENALTY)
