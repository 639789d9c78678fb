"""Random-policy throughput of Jumanji's JAX Level-Based Foraging, for BENCHMARKS.md.

Jumanji's pins may conflict with marta's, so this script runs in its own environment:

    python3.11 -m venv /tmp/jumanji-venv && /tmp/jumanji-venv/bin/pip install jumanji
    /tmp/jumanji-venv/bin/python benchmarks/jumanji_lbf.py --grid 6 --agents 4 --food 1

It mirrors `marta bench envs` (vmap over envs, scan over steps, random available actions,
auto-reset, every step's observations summed so that they are computed, best of 3 after
compile). Jumanji cannot build 5x5 with 4 players and 1 food
(its generator needs (grid-2)^2 - agents > 5 * food), so compare on 6x6-4p-1f, which marta
builds with `marta.envs.make("lbf-5x5-4p-1f", grid_size=6)`.
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
from jumanji.environments.routing.lbf import LevelBasedForaging
from jumanji.environments.routing.lbf.generator import RandomGenerator
from jumanji.wrappers import AutoResetWrapper


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--grid", type=int, default=6)
    parser.add_argument("--agents", type=int, default=4)
    parser.add_argument("--food", type=int, default=1)
    parser.add_argument("--batch", type=int, action="append")
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()

    gen = RandomGenerator(
        grid_size=args.grid, num_agents=args.agents, num_food=args.food, fov=args.grid
    )
    env = AutoResetWrapper(LevelBasedForaging(generator=gen, time_limit=50))

    def run(key, batch, steps):
        keys = jax.random.split(key, batch)
        state, ts = jax.vmap(env.reset)(keys)

        def body(carry, k):
            state, ts = carry
            logits = jnp.where(ts.observation.action_mask, 0.0, -jnp.inf)
            actions = jax.random.categorical(k, logits)
            state, ts = jax.vmap(env.step)(state, actions)
            # read the observations as `marta bench envs` does, so XLA cannot skip them
            observed = sum(o.sum() for o in jax.tree.leaves(ts.observation))
            return (state, ts), (ts.reward.sum(), observed)

        _, r = jax.lax.scan(body, (state, ts), jax.random.split(key, steps))
        return r

    for batch in args.batch or [1, 64, 1024]:
        f = jax.jit(run, static_argnums=(1, 2))
        jax.block_until_ready(f(jax.random.key(0), batch, args.steps))
        best = float("inf")
        for i in range(3):
            t0 = time.perf_counter()
            jax.block_until_ready(f(jax.random.key(i + 1), batch, args.steps))
            best = min(best, time.perf_counter() - t0)
        print(
            f"jumanji lbf {args.grid}x{args.grid}-{args.agents}p-{args.food}f batch {batch}: "
            f"{batch * args.steps / best:,.0f} steps/s"
        )


if __name__ == "__main__":
    main()
