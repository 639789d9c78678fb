"""Episode replay buffer in pure JAX (fixed capacity in episodes, uniform episode sampling).

How to read this file: an `Episode` holds one padded episode of at most ``T = max_steps``
transitions. Per-step fields have length ``T``; the observation-like fields have length
``T + 1`` because index ``t + 1`` holds the observation *after* step ``t`` (for the last
step of an episode that is the environment's pre-reset ``final_obs`` /
``final_global_state`` / ``final_avail_actions``). ``filled[t]`` marks real transitions;
everything after an episode's end is padding and must be masked by the learner.

Episodes are written step by step into a per-environment *staging* `Episode` batch
(`write_step`), and copied into the ring buffer when they end (`add_episodes`), so parallel
environments need not run in lockstep. `sample` draws episodes uniformly. Every function
is pure and works under ``jit``/``vmap``/``scan``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct


@struct.dataclass
class Episode:
    """One padded episode (or a batch of them, with extra leading axes).

    Attributes:
        obs: f32[T+1, N, obs_dim] observations; index t+1 follows step t.
        state: f32[T+1, state_dim] global states, aligned with `obs`.
        avail: bool[T+1, N, A] available actions, aligned with `obs`.
        actions: i32[T, N] joint actions.
        reward: f32[T] team rewards.
        terminated: bool[T] true terminal (no bootstrap) at step t; a time-limit end is
            not terminal, so its target bootstraps from the stored final observation.
        filled: bool[T] real (non-padding) transitions.
    """

    obs: jax.Array
    state: jax.Array
    avail: jax.Array
    actions: jax.Array
    reward: jax.Array
    terminated: jax.Array
    filled: jax.Array


def random_episodes(key: jax.Array, spec: dict, batch_size: int, steps: int) -> Episode:
    """A batch of `batch_size` synthetic episodes of `steps` steps, every step filled, every
    action available, none terminated, inputs and rewards standard normal: what an update
    consumes, without an environment (timing an update, testing a learner).

    Args:
        spec: the environment's sizes (`env.spec`): num_agents, num_actions, obs_dim,
            state_dim.
    """
    k = jax.random.split(key, 4)
    n, a = spec["num_agents"], spec["num_actions"]
    return Episode(
        obs=jax.random.normal(k[0], (batch_size, steps + 1, n, spec["obs_dim"])),
        state=jax.random.normal(k[1], (batch_size, steps + 1, spec["state_dim"])),
        avail=jnp.ones((batch_size, steps + 1, n, a), bool),
        actions=jax.random.randint(k[2], (batch_size, steps, n), 0, a),
        reward=jax.random.normal(k[3], (batch_size, steps)),
        terminated=jnp.zeros((batch_size, steps), bool),
        filled=jnp.ones((batch_size, steps), bool),
    )


@struct.dataclass
class EpisodeBuffer:
    """Ring buffer of episodes.

    Attributes:
        data: `Episode` with a leading capacity axis.
        insert_pos: i32[] next slot to write.
        size: i32[] number of stored episodes (<= capacity).
    """

    data: Episode
    insert_pos: jax.Array
    size: jax.Array

    @property
    def capacity(self) -> int:
        return self.data.reward.shape[0]


def empty_episodes(
    batch: int, *, max_steps: int, num_agents: int, num_actions: int, obs_dim: int, state_dim: int
) -> Episode:
    """A batch of all-padding episodes with leading axis `batch`."""
    b, t, n = batch, max_steps, num_agents
    return Episode(
        obs=jnp.zeros((b, t + 1, n, obs_dim), jnp.float32),
        state=jnp.zeros((b, t + 1, state_dim), jnp.float32),
        avail=jnp.zeros((b, t + 1, n, num_actions), bool),
        actions=jnp.zeros((b, t, n), jnp.int32),
        reward=jnp.zeros((b, t), jnp.float32),
        terminated=jnp.zeros((b, t), bool),
        filled=jnp.zeros((b, t), bool),
    )


def init_buffer(capacity: int, **sizes: int) -> EpisodeBuffer:
    """An empty buffer of `capacity` episodes; `sizes` as in `empty_episodes`."""
    return EpisodeBuffer(
        data=empty_episodes(capacity, **sizes),
        insert_pos=jnp.zeros((), jnp.int32),
        size=jnp.zeros((), jnp.int32),
    )


def write_step(
    staging: Episode,
    time: jax.Array,
    *,
    obs: jax.Array,
    state: jax.Array,
    avail: jax.Array,
    actions: jax.Array,
    reward: jax.Array,
    terminated: jax.Array,
    next_obs: jax.Array,
    next_state: jax.Array,
    next_avail: jax.Array,
) -> Episode:
    """Writes one step of E parallel environments into their staging episodes.

    Args:
        staging: `Episode` batch with leading axis E.
        time: i32[E] step index of this transition inside each episode.
        obs, state, avail: observation-like fields f32/bool[E, ...] before the step.
        actions: i32[E, N]; reward: f32[E]; terminated: bool[E].
        next_obs, next_state, next_avail: the pre-reset observation-like fields after the
            step (the env's ``final_*`` info entries), written at index ``time + 1``.

    Returns:
        the staging batch with index ``time`` filled in.
    """
    env = jnp.arange(staging.reward.shape[0])
    nxt = time + 1
    return Episode(
        obs=staging.obs.at[env, time].set(obs).at[env, nxt].set(next_obs),
        state=staging.state.at[env, time].set(state).at[env, nxt].set(next_state),
        avail=staging.avail.at[env, time].set(avail).at[env, nxt].set(next_avail),
        actions=staging.actions.at[env, time].set(actions),
        reward=staging.reward.at[env, time].set(reward),
        terminated=staging.terminated.at[env, time].set(terminated),
        filled=staging.filled.at[env, time].set(True),
    )


def clear_finished(staging: Episode, done: jax.Array) -> Episode:
    """Marks the staging episodes of environments with ``done[e]`` as empty (all padding)."""
    return staging.replace(filled=staging.filled & ~done[:, None])


def add_episodes(buffer: EpisodeBuffer, episodes: Episode, commit: jax.Array) -> EpisodeBuffer:
    """Appends the episodes with ``commit[e]`` (in order of e) to the ring buffer.

    Args:
        buffer: the buffer.
        episodes: `Episode` batch with leading axis E.
        commit: bool[E] which episodes to store.

    Returns:
        the buffer with the committed episodes written at consecutive slots.
    """
    capacity = buffer.capacity
    offset = jnp.cumsum(commit.astype(jnp.int32)) - 1
    slots = jnp.where(commit, (buffer.insert_pos + offset) % capacity, capacity)
    data = jax.tree.map(lambda d, x: d.at[slots].set(x, mode="drop"), buffer.data, episodes)
    count = jnp.sum(commit.astype(jnp.int32))
    return EpisodeBuffer(
        data=data,
        insert_pos=(buffer.insert_pos + count) % capacity,
        size=jnp.minimum(buffer.size + count, capacity),
    )


def sample(key: jax.Array, buffer: EpisodeBuffer, batch_size: int) -> Episode:
    """Draws `batch_size` stored episodes uniformly with replacement.

    Returns an `Episode` batch with leading axis `batch_size`; from an empty buffer it
    returns padding (all ``filled`` false).
    """
    idx = jax.random.randint(key, (batch_size,), 0, jnp.maximum(buffer.size, 1))
    return jax.tree.map(lambda d: d[idx], buffer.data)
