"""Random-policy throughput of JaxMARL's MPE Simple-Tag, for BENCHMARKS.md.

JaxMARL pins its own JAX, so this script runs in its own environment:

    python3.11 -m venv /tmp/jaxmarl-venv && /tmp/jaxmarl-venv/bin/pip install jaxmarl==0.2.0
    /tmp/jaxmarl-venv/bin/python benchmarks/jaxmarl_simple_tag.py --batch 1 --batch 1024

It mirrors `marta bench envs` (vmap over envs, scan over steps, uniform random discrete
actions, JaxMARL's built-in auto-reset, every step's observations summed so that they are
computed, best of 3 after compile). JaxMARL's
``MPE_simple_tag_v3`` has 3 adversaries, 1 good agent and 2 obstacles, all 4 agents driven
by the random policy; marta's ``mpe-simple-tag`` drives the 3 predators and runs its
heuristic prey inside the step (more work per step for marta).
"""

from __future__ import annotations

import argparse
import time

import jax
import jaxmarl


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, action="append")
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    env = jaxmarl.make("MPE_simple_tag_v3")

    def run(key, batch, steps):
        obs, state = jax.vmap(env.reset)(jax.random.split(key, batch))

        def body(state, k):
            k_act, k_step = jax.random.split(k)
            act_keys = jax.random.split(k_act, len(env.agents))
            actions = {
                agent: jax.random.randint(k_a, (batch,), 0, env.action_space(agent).n)
                for agent, k_a in zip(env.agents, act_keys, strict=True)
            }
            obs, state, reward, _, _ = jax.vmap(env.step)(
                jax.random.split(k_step, batch), state, actions
            )
            # read the observations as `marta bench envs` does, so XLA cannot skip them
            observed = sum(o.sum() for o in jax.tree.leaves(obs))
            return state, (reward[env.agents[0]].sum(), observed)

        _, r = jax.lax.scan(body, state, jax.random.split(key, steps))
        return r

    for batch in args.batch or [1, 64, 1024]:
        steps = {1: 2000, 64: 1000}.get(batch, args.steps)
        f = jax.jit(run, static_argnums=(1, 2))
        jax.block_until_ready(f(jax.random.key(0), batch, steps))
        best = float("inf")
        for i in range(3):
            t0 = time.perf_counter()
            jax.block_until_ready(f(jax.random.key(i + 1), batch, steps))
            best = min(best, time.perf_counter() - t0)
        print(f"jaxmarl MPE_simple_tag_v3 batch {batch}: {batch * steps / best:,.0f} steps/s")


if __name__ == "__main__":
    main()
