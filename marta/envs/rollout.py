"""Batched rollouts of any marta environment: `vmap` over environments, `scan` over steps."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp

from marta.envs.base import MultiAgentEnv

#: policy_fn(key, obs f32[N, obs_dim], avail bool[N, A]) -> actions i32[N]
PolicyFn = Callable[[jax.Array, jax.Array, jax.Array], jax.Array]


class Rollout(NamedTuple):
    """Per-step outputs of `rollout`, each with leading axes [time, env]."""

    obs: jax.Array  # f32[T, B, N, obs_dim]; with keep_obs=False f32[T, B], each step's sum
    actions: jax.Array  # i32[T, B, N]
    reward: jax.Array  # f32[T, B]
    done: jax.Array  # bool[T, B]
    episode_return: jax.Array  # f32[T, B]; the finished episode's return where done
    episode_length: jax.Array  # i32[T, B]; the finished episode's length where done


def random_policy(key: jax.Array, obs: jax.Array, avail: jax.Array) -> jax.Array:
    """Uniform random policy over the available actions.

    Draws one uniform number per agent and picks the k-th available action, k = floor(u * n),
    which needs A times fewer random bits than Gumbel-max sampling over all actions.
    """
    del obs
    num_avail = avail.sum(axis=-1, keepdims=True)
    u = jax.random.uniform(key, num_avail.shape)
    k = jnp.minimum(jnp.floor(u * num_avail), num_avail - 1)
    rank = jnp.cumsum(avail, axis=-1) - 1  # rank of each available action among the available
    return jnp.argmax(avail & (rank == k), axis=-1).astype(jnp.int32)


@partial(jax.jit, static_argnames=("env", "policy_fn", "num_envs", "num_steps", "keep_obs"))
def rollout(
    env: MultiAgentEnv,
    policy_fn: PolicyFn,
    key: jax.Array,
    num_envs: int,
    num_steps: int,
    keep_obs: bool = True,
) -> Rollout:
    """Runs `num_envs` environments for `num_steps` steps each under `policy_fn`.

    One compiled program: `jax.vmap` over environments inside a `jax.lax.scan` over steps.
    Episodes auto-reset, so `done` marks where `episode_return`/`episode_length` are valid.
    With `keep_obs=False` only each step's sum of the observations is stored (benchmarks:
    storing large observations would make the figure one of memory traffic, and not reading
    them at all would let XLA skip computing them, which no Python reference env can do).
    """
    key_reset, key_run = jax.random.split(key)
    obs, state = jax.vmap(env.reset)(jax.random.split(key_reset, num_envs))

    def one_step(carry, key_t):
        obs, state = carry
        keys = jax.random.split(key_t, (2, num_envs))
        avail = jax.vmap(env.avail_actions)(state)
        actions = jax.vmap(policy_fn)(keys[0], obs, avail)
        next_obs, state, reward, done, info = jax.vmap(env.step)(keys[1], state, actions)
        out = Rollout(
            obs=obs if keep_obs else obs.sum(axis=(-2, -1)),
            actions=actions,
            reward=reward,
            done=done,
            episode_return=info["episode_return"],
            episode_length=info["episode_length"],
        )
        return (next_obs, state), out

    _, out = jax.lax.scan(one_step, (obs, state), jax.random.split(key_run, num_steps))
    return out


def episode_stats(out: Rollout) -> dict[str, float]:
    """Mean return and length over the episodes that finished inside a rollout.

    Short episodes finish more often within a fixed number of steps, so for an unbiased
    estimate run one episode per environment (`num_steps = env.max_steps`) and take each
    environment's first finished episode, as `marta demo` does.
    """
    done = out.done
    n = jnp.maximum(done.sum(), 1)
    return {
        "episodes": int(done.sum()),
        "return_mean": float(jnp.where(done, out.episode_return, 0.0).sum() / n),
        "length_mean": float(jnp.where(done, out.episode_length, 0).sum() / n),
    }
