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

Seeds: ``jax.jit(jax.vmap(trainer.init))(seed_keys(seed, k))`` and
``jax.jit(jax.vmap(trainer.segment))`` run k seeds as one program (see the contract in
docs/learners.md).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from flax import struct

from marta.envs.base import MultiAgentEnv
from marta.learners.replay import (
    Episode,
    EpisodeBuffer,
    add_episodes,
    clear_finished,
    empty_episodes,
    init_buffer,
    sample,
    write_step,
)
from marta.learners.value import AgentCarry, Learner, LearnerState


def _check(cond: bool, field: str, allowed: str, value: object) -> None:
    if not cond:
        raise ValueError(f"TrainConfig.{field} must be {allowed}, got {value!r}")


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
    cfg = train_config
    lcfg = learner.config
    num_envs = cfg.num_envs
    sizes = {
        "max_steps": env.max_steps,
        "num_agents": env.num_agents,
        "num_actions": env.num_actions,
        "obs_dim": env.obs_dim,
        "state_dim": env.state_dim,
    }
    act = jax.vmap(learner.act, in_axes=(0, None, 0, 0, 0, None))
    reset = jax.vmap(env.reset)
    step = jax.vmap(env.step)
    avail_of = jax.vmap(env.avail_actions)
    state_of = jax.vmap(env.global_state)

    def batched_carry(batch: int) -> AgentCarry:
        carry = learner.initial_carry()
        return jax.tree.map(lambda x: jnp.broadcast_to(x, (batch, *x.shape)), carry)

    def init(key: jax.Array) -> TrainState:
        if not jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
            key = jax.random.wrap_key_data(key)
        key_learner, key_env, key_run = jax.random.split(key, 3)
        obs, env_state = reset(jax.random.split(key_env, num_envs))
        zero = jnp.zeros((), jnp.int32)
        return TrainState(
            learner=learner.init(key_learner),
            buffer=init_buffer(lcfg.buffer_size, **sizes),
            staging=empty_episodes(num_envs, **sizes),
            env_state=env_state,
            obs=obs,
            carry=batched_carry(num_envs),
            key=_raw_key(key_run),
            env_steps=zero,
            updates=zero,
            episodes=zero,
        )

    # ------------------------------------------------------------------ collection
    def env_step(ts: TrainState, key: jax.Array) -> tuple[TrainState, jax.Array]:
        key_act, key_env = jax.random.split(key)
        avail = avail_of(ts.env_state)
        global_state = state_of(ts.env_state)
        actions, _, carry = act(
            jax.random.split(key_act, num_envs), ts.learner, ts.obs, ts.carry, avail, True
        )
        obs, env_state, reward, done, info = step(
            jax.random.split(key_env, num_envs), ts.env_state, actions
        )
        staging = write_step(
            ts.staging,
            ts.env_state.time,
            obs=ts.obs,
            state=global_state,
            avail=avail,
            actions=actions,
            reward=reward,
            terminated=info["terminated"],
            next_obs=info["final_obs"],
            next_state=info["final_global_state"],
            next_avail=info["final_avail_actions"],
        )
        env_steps = ts.env_steps + num_envs
        ts = ts.replace(
            learner=ts.learner.replace(env_steps=env_steps),
            buffer=add_episodes(ts.buffer, staging, done),
            staging=clear_finished(staging, done),
            env_state=env_state,
            obs=obs,
            carry=_where_env(done, batched_carry(num_envs), carry),
            env_steps=env_steps,
            episodes=ts.episodes + done.sum(dtype=jnp.int32),
        )
        stats = jnp.stack([jnp.where(done, info["episode_return"], 0.0).sum(), done.sum()])
        return ts, stats

    # ------------------------------------------------------------------ learning
    def update_step(ts: TrainState, key: jax.Array) -> tuple[TrainState, dict[str, jax.Array]]:
        key_sample, key_update = jax.random.split(key)
        batch = sample(key_sample, ts.buffer, lcfg.batch_size)
        ready = (ts.buffer.size >= lcfg.batch_size) & (ts.env_steps >= cfg.learning_starts)
        metrics_shape = jax.eval_shape(learner.update, key_update, ts.learner, batch)[1]

        def skip(state, batch):
            del batch
            return state, jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), metrics_shape)

        state, metrics = jax.lax.cond(
            ready, lambda s, b: learner.update(key_update, s, b), skip, ts.learner, batch
        )
        metrics = {**metrics, "did_update": ready.astype(jnp.float32)}
        return ts.replace(learner=state, updates=state.updates), metrics

    def iteration(ts: TrainState, _: None):
        key, key_roll, key_upd = jax.random.split(jax.random.wrap_key_data(ts.key), 3)
        ts = ts.replace(key=_raw_key(key))
        ts, stats = jax.lax.scan(env_step, ts, jax.random.split(key_roll, cfg.rollout_steps))
        ts, metrics = jax.lax.scan(
            update_step, ts, jax.random.split(key_upd, cfg.updates_per_rollout)
        )
        return ts, (stats.sum(axis=0), metrics)

    # ------------------------------------------------------------------ evaluation
    def evaluate(key: jax.Array, state: LearnerState) -> tuple[jax.Array, jax.Array]:
        """Greedy returns and lengths f32[eval_episodes] of one episode per parallel env."""
        num = cfg.eval_episodes
        key_reset, key_run = jax.random.split(key)
        obs, env_state = reset(jax.random.split(key_reset, num))

        def one(carry, key_t):
            obs, env_state, agent_carry, finished, returns, lengths = carry
            key_act, key_env = jax.random.split(key_t)
            avail = avail_of(env_state)
            actions, _, agent_carry = act(
                jax.random.split(key_act, num), state, obs, agent_carry, avail, False
            )
            obs, env_state, _, done, info = step(jax.random.split(key_env, num), env_state, actions)
            first = done & ~finished
            returns = jnp.where(first, info["episode_return"], returns)
            lengths = jnp.where(first, info["episode_length"].astype(jnp.float32), lengths)
            return (obs, env_state, agent_carry, finished | done, returns, lengths), None

        zeros = jnp.zeros((num,), jnp.float32)
        init_carry = (obs, env_state, batched_carry(num), jnp.zeros((num,), bool), zeros, zeros)
        final, _ = jax.lax.scan(one, init_carry, jax.random.split(key_run, env.max_steps))
        return final[4], final[5]

    # ------------------------------------------------------------------ segment
    def segment(ts: TrainState) -> tuple[TrainState, dict[str, jax.Array]]:
        ts, (stats, upd) = jax.lax.scan(iteration, ts, None, length=cfg.iterations_per_segment)
        key, key_eval = jax.random.split(jax.random.wrap_key_data(ts.key))
        ts = ts.replace(key=_raw_key(key))
        returns, lengths = evaluate(key_eval, ts.learner)
        done_updates = upd["did_update"].sum()

        def mean_over_updates(x: jax.Array) -> jax.Array:
            return (x * upd["did_update"]).sum() / jnp.maximum(done_updates, 1.0)

        train_episodes = stats[:, 1].sum()
        metrics = {
            "env_steps": ts.env_steps,
            "updates": ts.updates,
            "episodes": ts.episodes,
            "epsilon": learner.epsilon(ts.learner),
            "eval_return_mean": returns.mean(),
            "eval_return_std": returns.std(),
            "eval_length_mean": lengths.mean(),
            "train_return_mean": stats[:, 0].sum() / jnp.maximum(train_episodes, 1.0),
            "train_episodes": train_episodes.astype(jnp.int32),
            "buffer_size": ts.buffer.size,
            **{k: mean_over_updates(v) for k, v in upd.items() if k != "did_update"},
        }
        return ts, metrics

    return Trainer(init=init, segment=segment, num_segments=cfg.num_segments)
