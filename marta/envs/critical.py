"""A repeated two-agent game with one *critical* state: the switcher's sanity check.

The episode walks through ``num_positions`` positions in order, one per step, and wraps
around (position = step mod ``num_positions``); the walk does not depend on the actions.
At every position but ``critical`` the team earns ``reward`` whatever it does. At the
critical position the team earns ``reward`` only if agent ``key_agent`` plays
``good_action``, and ``penalty`` otherwise (any other value, out of range included); the
other agents never matter.

So a fault (another action executed in place of an agent's own) can hurt in exactly one
state and for exactly one agent: a MARTA switcher with an activation cost c > 0 should
learn to fault agent ``key_agent`` at the critical position and nowhere else (paper,
Prop. 2: activate where the harm exceeds c). tests/test_marta_critical_state.py checks it.

Observations: the position one-hot (every agent sees the same); global state: the same
one-hot.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from flax import struct

from marta.envs.base import EnvStep, MultiAgentEnv
from marta.envs.registry import register


@struct.dataclass
class CriticalState:
    position: jax.Array  # i32[]


class CriticalStateGame(MultiAgentEnv):
    """Positions visited in a loop; only agent `key_agent` at position `critical` matters."""

    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Config:
        num_agents: int = 2
        """agents in the team (>= 2)"""
        num_actions: int = 2
        """actions per agent (>= 2)"""
        num_positions: int = 4
        """positions visited in a loop, one per step"""
        critical: int = 2
        """the position where a fault of `key_agent` hurts"""
        key_agent: int = 0
        """the only agent whose action matters (at the critical position)"""
        good_action: int = 0
        """the action `key_agent` must play at the critical position"""
        reward: float = 1.0
        """team reward of every step except a bad move at the critical position"""
        penalty: float = -1.0
        """team reward when `key_agent` misses `good_action` at the critical position"""
        max_steps: int = 8
        """steps per episode"""

        def __post_init__(self) -> None:
            checks = (
                ("num_agents", self.num_agents >= 2, ">= 2"),
                ("num_actions", self.num_actions >= 2, ">= 2"),
                ("num_positions", self.num_positions >= 2, ">= 2"),
                ("critical", 0 <= self.critical < self.num_positions, "in [0, num_positions)"),
                ("key_agent", 0 <= self.key_agent < self.num_agents, "in [0, num_agents)"),
                ("good_action", 0 <= self.good_action < self.num_actions, "in [0, num_actions)"),
                ("max_steps", self.max_steps >= 1, ">= 1"),
            )
            for name, ok, allowed in checks:
                if not ok:
                    raise ValueError(f"{name} must be {allowed}, got {getattr(self, name)!r}")

    def __init__(self, **kwargs) -> None:
        self.config = self.Config(**kwargs)
        self.num_agents = self.config.num_agents
        self.num_actions = self.config.num_actions
        self.obs_dim = self.config.num_positions
        self.state_dim = self.config.num_positions
        self.max_steps = self.config.max_steps

    def reset_env(self, key: jax.Array) -> CriticalState:
        del key
        return CriticalState(position=jnp.zeros((), jnp.int32))

    def step_env(self, key: jax.Array, state: CriticalState, actions: jax.Array) -> EnvStep:
        del key
        cfg = self.config
        bad = (state.position == cfg.critical) & (actions[cfg.key_agent] != cfg.good_action)
        reward = jnp.where(bad, cfg.penalty, cfg.reward).astype(jnp.float32)
        position = (state.position + 1) % cfg.num_positions
        return CriticalState(position=position), reward, jnp.zeros((), bool), {}

    def global_state_of(self, state: CriticalState) -> jax.Array:
        return jax.nn.one_hot(state.position, self.config.num_positions, dtype=jnp.float32)

    def observe(self, state: CriticalState) -> jax.Array:
        return jnp.broadcast_to(self.global_state_of(state), (self.num_agents, self.obs_dim))


register(
    "critical-state",
    CriticalStateGame,
    "2 agents, 4 positions in a loop; only agent 0's action at position 2 matters",
)
