"""Compiled training of a value-based learner: `make_train(config, env, learner) -> Trainer`.

How to read this file: `TrainConfig` sizes the run; `TrainState` holds everything needed to
continue bit-identically (learner, replay buffer, per-environment staging episodes,
environment states, observations, recurrent carries, PRNG key, counters). `make_train`
returns a `Trainer` whose `segment(state)` is one pure function, compiled once:

* *collection*: ``num_envs`` environments are stepped in parallel (``vmap``) with
  epsilon-greedy actions, ``rollout_steps`` times (``scan``). Environments are **not** in
  lockstep: each writes its steps into its own staging episode, and an episode is copied into
  the replay buffer the step it ends (terminal or time limit); the env auto-resets and the
  agents' recurrent carry is reset. So every scan step is exactly ``num_envs`` env steps and a
  segment is exactly ``eval_interval`` env steps.
* *learning*: after each collection, ``updates_per_rollout`` gradient updates on
  ``batch_size`` uniformly sampled episodes, gated (``lax.cond``) on ``learning_starts`` and
  on the buffer holding a batch.
* *evaluation*: ``eval_episodes`` greedy episodes in parallel environments, in the same
  compiled function.

The loop itself lives in `marta.core.marta` (`make_marta_train`), shared by plain training,
the fault-injection baseline and MARTA: plain training is the baseline with fault onset
probability p = 0 (no fault is ever injected, and the fault metrics are left out).

Seeds: ``jax.jit(jax.vmap(trainer.init))(seed_keys(seed, k))`` and
``jax.jit(vmap_seeds(trainer.segment))`` (`marta.learners.trim`: a vmap whose axis is named,
so that the updates of all seeds cut their batches at one length) run k seeds as one program
(see the contract in docs/learners.md).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from flax import struct

from marta.envs.base import MultiAgentEnv
from marta.learners.replay import (
    Episode,
    EpisodeBuffer,
)
from marta.learners.value import AgentCarry, Learner, LearnerState
from marta.validation import require

_check = partial(require, owner="TrainConfig")


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class TrainConfig:
    """Sizes of a compiled training run (environment steps count every parallel env)."""

    total_env_steps: int = 500_000
    """environment steps of the whole run (summed over parallel envs)"""
    num_envs: int = 16
    """parallel training environments"""
    rollout_steps: int = 5
    """steps of every parallel env between two learning phases"""
    updates_per_rollout: int = 1
    """gradient updates after each collection of num_envs * rollout_steps env steps"""
    learning_starts: int = 5_000
    """env steps before the first update (the buffer must also hold batch_size episodes)"""
    eval_interval: int = 10_000
    """env steps per segment; a greedy evaluation ends every segment"""
    eval_episodes: int = 100
    """greedy evaluation episodes (run in parallel environments)"""

    def __post_init__(self) -> None:
        for name in ("total_env_steps", "num_envs", "rollout_steps", "eval_interval"):
            _check(getattr(self, name) >= 1, name, ">= 1", getattr(self, name))
        _check(
            self.updates_per_rollout >= 0, "updates_per_rollout", ">= 0", self.updates_per_rollout
        )
        _check(self.learning_starts >= 0, "learning_starts", ">= 0", self.learning_starts)
        _check(self.eval_episodes >= 1, "eval_episodes", ">= 1", self.eval_episodes)
        _check(
            self.eval_interval % self.env_steps_per_iteration == 0,
            "eval_interval",
            f"a multiple of num_envs * rollout_steps = {self.env_steps_per_iteration}",
            self.eval_interval,
        )
        _check(
            self.total_env_steps % self.eval_interval == 0,
            "total_env_steps",
            f"a multiple of eval_interval = {self.eval_interval}",
            self.total_env_steps,
        )

    @property
    def env_steps_per_iteration(self) -> int:
        """Env steps collected between two learning phases."""
        return self.num_envs * self.rollout_steps

    @property
    def iterations_per_segment(self) -> int:
        """Collection + learning iterations per segment."""
        return self.eval_interval // self.env_steps_per_iteration

    @property
    def updates_per_segment(self) -> int:
        """Gradient-update slots per segment (gated off before learning starts)."""
        return self.iterations_per_segment * self.updates_per_rollout

    @property
    def num_segments(self) -> int:
        """Segments (= evaluations) in the whole run."""
        return self.total_env_steps // self.eval_interval


@struct.dataclass
class TrainState:
    """The full state of one seed's training run; leading axis E = num_envs where noted.

    Attributes:
        learner: the learner state (params, target params, optimiser state, counters).
        buffer: replay buffer of finished episodes.
        staging: `Episode`[E] the episodes currently being collected.
        env_state: environment states [E].
        obs: f32[E, N, obs_dim] current observations.
        carry: `AgentCarry`[E] recurrent state of the acting agents.
        key: u32[2] raw PRNG key data (plain integers, so checkpoints are plain arrays).
        env_steps: i32[] environment steps so far; updates: i32[] gradient updates done;
        episodes: i32[] training episodes finished.
        adversary: MARTA's adversary (`marta.core.marta.AdversaryState`), None without one.
        switcher: MARTA's switcher (`marta.core.marta.SwitcherTrainState`), None without one.
    """

    learner: LearnerState
    buffer: EpisodeBuffer
    staging: Episode
    env_state: Any
    obs: jax.Array
    carry: AgentCarry
    key: jax.Array
    env_steps: jax.Array
    updates: jax.Array
    episodes: jax.Array
    adversary: Any = None
    switcher: Any = None


class Trainer(NamedTuple):
    """Compiled-training entry points (see the module docstring)."""

    init: Callable[[jax.Array], TrainState]
    segment: Callable[[TrainState], tuple[TrainState, dict[str, jax.Array]]]
    num_segments: int


def seed_keys(seed: int, num_seeds: int) -> jax.Array:
    """``num_seeds`` independent PRNG keys derived from one integer seed."""
    return jax.random.split(jax.random.key(seed), num_seeds)


def _raw_key(key: jax.Array) -> jax.Array:
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        return jax.random.key_data(key)
    return key


def _where_env(done: jax.Array, new: Any, old: Any) -> Any:
    """Per-environment select over a pytree whose leaves have leading axis E."""

    def pick(a, b):
        return jnp.where(done.reshape(done.shape + (1,) * (a.ndim - 1)), a, b)

    return jax.tree.map(pick, new, old)


def make_train(train_config: TrainConfig, env: MultiAgentEnv, learner: Learner) -> Trainer:
    """Builds the compiled trainer of `learner` on `env`.

    Args:
        train_config: run sizes.
        env: any `MultiAgentEnv` (pure JAX).
        learner: a value learner (`marta.learners.make_learner`).

    Returns:
        `Trainer` with ``init(key) -> TrainState``, ``segment(state) -> (state, metrics)``
        and ``num_segments``.
    """
    from marta.core.marta import make_marta_train  # the shared loop (imports this module)

    trainer = make_marta_train(train_config, None, env, learner)
    return Trainer(init=trainer.init, segment=trainer.segment, num_segments=trainer.num_segments)
