"""The environment contract shared by every pure-JAX environment in marta.

How to read this file: `MultiAgentEnv` is the base class. A concrete environment writes only
four pure functions over its own state pytree (`reset_env`, `step_env`, `observe`,
`global_state_of`, and optionally `avail_actions_of`); the base class adds the episode
bookkeeping once for all environments:

* the time limit (`max_steps`): `info["truncated"]` marks a time-limit end, separately from
  a terminal one (`info["terminated"]`), so learners can bootstrap on truncation;
* auto-reset: when an episode ends, `step` returns the first observation and state of the
  next episode, and reports the finished episode's return and length in `info`;
* the observation, global state and available actions *before* the reset
  (`info["final_obs"]`, `info["final_global_state"]`, `info["final_avail_actions"]`), which a
  replay buffer needs to store the last transition of an episode.

Contract (see docs/architecture.md)::

    obs, state = env.reset(key)                                   # obs: f32[N, obs_dim]
    obs, state, reward, done, info = env.step(key, state, actions)  # actions: i32[N]
    env.global_state(state)   # f32[state_dim]
    env.avail_actions(state)  # bool[N, num_actions]

All functions are pure and work under `jax.jit`, `jax.vmap` and `jax.lax.scan`.
"""

from __future__ import annotations

import abc
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

PyTree = Any
#: what `MultiAgentEnv.step_env` returns: (next env state, team reward f32[], terminated
#: bool[], info {name: array})
EnvStep = tuple[PyTree, jax.Array, jax.Array, dict[str, jax.Array]]


@struct.dataclass
class EnvState:
    """State of any marta environment: the environment's own state plus episode bookkeeping.

    Attributes:
        env: the concrete environment's state pytree.
        time: i32[] steps taken in the current episode.
        episode_return: f32[] team return accumulated in the current episode.
    """

    env: PyTree
    time: jax.Array
    episode_return: jax.Array


#: the static sizes every environment (JAX or host) exposes as attributes
SPEC_FIELDS = ("num_agents", "num_actions", "obs_dim", "state_dim", "max_steps")
#: the recommended input multipliers in `env_spec` (floats, 1.0 when an env sets none)
INPUT_SCALES = ("state_scale", "obs_scale")


def env_spec(env: Any) -> dict[str, Any]:
    """The static sizes of an environment (anything with the `SPEC_FIELDS` attributes) and its
    recommended input multipliers ``state_scale`` and ``obs_scale`` (1.0 when it has none)."""
    spec: dict[str, Any] = {field: int(getattr(env, field)) for field in SPEC_FIELDS}
    for field in INPUT_SCALES:
        spec[field] = float(getattr(env, field, 1.0))
    return spec


class MultiAgentEnv(abc.ABC):
    """Base class of cooperative, team-reward multi-agent environments.

    Subclasses set the static sizes in `__init__` (`num_agents`, `num_actions`, `obs_dim`,
    `state_dim`, `max_steps`) and implement the abstract methods below.
    """

    #: registry id the environment was built from (set by `marta.envs.make`)
    name: str = ""
    num_agents: int
    num_actions: int
    obs_dim: int
    state_dim: int
    max_steps: int
    #: recommended multiplier of the global state for learners that condition on it (QMIX's
    #: hypernetworks, a state critic): 1 / the state's largest magnitude, 1.0 when the state
    #: is already in [-1, 1] (docs/learners.md, "Tuning on lbf-5x5-4p-1f")
    state_scale: float = 1.0
    #: recommended multiplier of the agents' observations (the agent networks' input): 1 / the
    #: observations' largest magnitude, 1.0 when they are already O(1); without it VDN
    #: over-estimates and collapses on lbf-5x5-4p-1f (docs/learners.md)
    obs_scale: float = 1.0
    #: events an evaluation counts per episode: {metric name: per-step int entry of the step
    #: info}; training reports the greedy mean as ``eval_<name>_mean`` (e.g. Traffic
    #: Junction's collisions, the paper's second measure there)
    episode_counters: dict[str, str] = {}

    # ----------------------------------------------------------------- to implement
    @abc.abstractmethod
    def reset_env(self, key: jax.Array) -> PyTree:
        """Samples the environment's own initial state."""

    @abc.abstractmethod
    def step_env(self, key: jax.Array, state: PyTree, actions: jax.Array) -> EnvStep:
        """One transition of the environment's own state.

        Args:
            key: PRNG key.
            state: the environment's own state.
            actions: i32[N] joint action.

        Returns:
            (next_state, reward f32[] team reward, terminated bool[], extra info dict).
        """

    @abc.abstractmethod
    def observe(self, state: PyTree) -> jax.Array:
        """Per-agent observations f32[N, obs_dim]."""

    @abc.abstractmethod
    def global_state_of(self, state: PyTree) -> jax.Array:
        """Global (centralised) state f32[state_dim] of the environment's own state."""

    def avail_actions_of(self, state: PyTree) -> jax.Array:
        """Available actions bool[N, num_actions]; all available unless overridden."""
        del state
        return jnp.ones((self.num_agents, self.num_actions), dtype=bool)

    # ----------------------------------------------------------------- public API
    def reset(self, key: jax.Array) -> tuple[jax.Array, EnvState]:
        """Starts an episode: returns (obs f32[N, obs_dim], state)."""
        state = self._new_episode(key)
        return self.observe(state.env), state

    def _new_episode(self, key: jax.Array) -> EnvState:
        return EnvState(
            env=self.reset_env(key),
            time=jnp.zeros((), jnp.int32),
            episode_return=jnp.zeros((), jnp.float32),
        )

    def step(
        self, key: jax.Array, state: EnvState, actions: jax.Array
    ) -> tuple[jax.Array, EnvState, jax.Array, jax.Array, dict[str, jax.Array]]:
        """One step with time limit and auto-reset.

        Returns:
            obs f32[N, obs_dim] (of the next episode if this one ended), next state,
            reward f32[] (team reward of this transition), done bool[] and an info dict with
            `terminated`, `truncated`, `returned_episode` (= done), `episode_return` and
            `episode_length` (of the episode this transition belongs to, including it),
            and the pre-reset `final_obs`, `final_global_state`, `final_avail_actions`,
            plus any environment-specific entries.
        """
        key_step, key_reset = jax.random.split(key)
        actions = jnp.asarray(actions, jnp.int32)
        env_state, reward, terminated, extra = self.step_env(key_step, state.env, actions)
        reward = jnp.asarray(reward, jnp.float32)
        terminated = jnp.asarray(terminated, bool)
        time = state.time + 1
        truncated = (time >= self.max_steps) & ~terminated
        done = terminated | truncated
        episode_return = state.episode_return + reward
        stepped = EnvState(env=env_state, time=time, episode_return=episode_return)
        reset_state = self._new_episode(key_reset)
        next_state = jax.tree.map(lambda r, s: jnp.where(done, r, s), reset_state, stepped)
        # one observation of the selected state, not one of each candidate: a caller that does
        # not read `final_obs` (evaluation, benchmarks) pays for a single `observe`
        obs = self.observe(next_state.env)
        final_obs = self.observe(env_state)
        info = {
            "terminated": terminated,
            "truncated": truncated,
            "returned_episode": done,
            "episode_return": episode_return,
            "episode_length": time,
            "final_obs": final_obs,
            "final_global_state": self.global_state_of(env_state),
            "final_avail_actions": self.avail_actions_of(env_state),
            **extra,
        }
        return obs, next_state, reward, done, info

    def global_state(self, state: EnvState) -> jax.Array:
        """Global state f32[state_dim] for centralised training (mixers, critics, switcher)."""
        return self.global_state_of(state.env)

    def avail_actions(self, state: EnvState) -> jax.Array:
        """Available-action mask bool[N, num_actions]."""
        return self.avail_actions_of(state.env)

    def observations(self, state: EnvState) -> jax.Array:
        """Observations f32[N, obs_dim] of a state (the same ones `reset`/`step` return)."""
        return self.observe(state.env)

    @property
    def spec(self) -> dict[str, int]:
        """Static sizes as a plain dict (used by learners and `marta envs`)."""
        return env_spec(self)

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k}={v}" for k, v in self.spec.items())
        return f"{type(self).__name__}({self.name!r}, {sizes})"
