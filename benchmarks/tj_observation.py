"""What Traffic Junction's observation costs in a random-policy rollout, and its floor.

Times `marta bench envs`' rollout (batch 1024, random policy, each step's observations
summed) three ways: with the real `TrafficJunction.observe`; with an observation of the same
size that costs nothing to build (zeros plus one number read from the state, so the step
still has to write it); and with a one-float observation (the game alone: moves, collisions,
arrivals, auto-reset). The middle figure is the most any way of building the observation can
reach:

    python benchmarks/tj_observation.py --env tj-4 --env tj-10

Run it pinned to one core (``taskset -c 0``) with XLA single-threaded, as `make bench` does.
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp

from marta.envs.traffic_junction import TrafficJunction
from marta.experiments.bench import jax_steps_per_second


def free_observation(env: TrafficJunction, state) -> jnp.ndarray:
    """An observation of the real size whose only work is writing it."""
    return jnp.zeros((env.num_agents, env.obs_dim)) + state.pos.sum()


def one_float(env: TrafficJunction, state) -> jnp.ndarray:
    """No observation to speak of: one float per car, so only the game is timed."""
    return jnp.zeros((env.num_agents, 1)) + state.pos.sum()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", action="append", help="tj-4, tj-6 or tj-10 (repeatable)")
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    real = TrafficJunction.observe
    print("| env | batch | observe | steps/s |\n|---|---|---|---|")
    for env_id in args.env or ["tj-4", "tj-10"]:
        for name, observe in (
            ("real", real),
            ("free, same size", free_observation),
            ("one float", one_float),
        ):
            TrafficJunction.observe = observe
            jax.clear_caches()  # `rollout` is cached on the env, which compares by config
            try:
                sps = jax_steps_per_second(env_id, args.batch, args.steps)
            finally:
                TrafficJunction.observe = real
            print(f"| {env_id} | {args.batch} | {name} | {sps:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
