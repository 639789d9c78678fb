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

    obs: jax.Array  # f32[T, B, N, obs_dim]
    actions: jax.Array  # i32[T, B, N]
    reward: jax.Array  # f32[T, B]
    done: jax.Array  # bool[T, B]
    episode_return: jax.Array  # f32[T, B]; the finished episode's return where done
    episode_length: jax.Array  # i32[T, B]; the finished episode's length where done


def random_policy(key: jax.Array, obs: jax.Array, avail: jax.Array) -> jax.Array:
    """Uniform random policy over the available actions."""
    del obs
    logits = jnp.where(avail, 0.0, -jnp.inf)
    return jax.random.categorical(key, logits).astype(jnp.int32)


@partial(jax.jit, static_argnames=("env", "policy_fn", "num_envs", "num_steps"))
def rollout(
    env: MultiAgentEnv,
    policy_fn: PolicyFn,
    key: jax.Array,
    num_envs: int,
    num_steps: int,
) -> Rollout:
    """Runs `num_envs` environments for `num_steps` steps each under `policy_fn`.

    One compiled program: `jax.vmap` over environments inside a `jax.lax.scan` over steps.
    Episodes auto-reset, so `done` marks where `episode_return`/`episode_length` are valid.
    """
    key_reset, key_run = jax.random.split(key)
    obs, state = jax.vmap(env.reset)(jax.random.split(key_reset, num_envs))

    def one_step(carry, key_t):
        obs, state = carry
        key_act, key_env = jax.random.split(key_t)
        avail = jax.vmap(env.avail_actions)(state)
        actions = jax.vmap(policy_fn)(jax.random.split(key_act, num_envs), obs, avail)
        next_obs, state, reward, done, info = jax.vmap(env.step)(
            jax.random.split(key_env, num_envs), state, actions
        )
        out = Rollout(
            obs=obs,
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
