"""How close a value learner's gradient update runs to this machine's matrix-multiply speed.

Training time is the learners' updates (BENCHMARKS.md "Where training time goes"): one update
of QMIX on a batch of 32 padded episodes runs the recurrent agent network forward and
backward over every step, plus the target network forward. This script compiles exactly the
update the trainer runs (`learner.update`, vmapped over seeds), counts its floating-point
operations from the network sizes (`update_flops`; XLA's own cost analysis counts a
``scan`` body once, not once per step), times it, and times a plain batched matrix product
of the GRU's shape (rows = batch x agents, 64 -> 192) on the same core, so the two rates can
be compared:

    python benchmarks/update_flops.py --env lbf-5x5-4p-1f --env tj-6 [--batch-size 32 ...]

Run it pinned to one core (``taskset -c 0``) with XLA single-threaded, as training runs.
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp

import marta.envs
from marta.learners import ValueLearnerConfig, make_learner
from marta.learners.replay import random_episodes
from marta.learners.trim import vmap_seeds


def best_time(fn, *args, repeats: int) -> float:
    """Seconds of the fastest of `repeats` calls after a warm-up call."""
    jax.block_until_ready(fn(*args))
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        best = min(best, time.perf_counter() - t0)
    return best


def update_flops(spec: dict, config: ValueLearnerConfig, steps: int) -> float:
    """Floating-point operations of one update of one seed, counted from the network sizes.

    Per agent and step the recurrent agent network does ``fc1`` (I x H), the GRU's input and
    recurrent products (2 x H x 3H) and the Q head (H x A), 2 FLOP per multiply-add; an
    update runs it forward and backward (about 3x the forward) on the online network and
    forward on the target network: 4x the forward over ``B x N x (T + 1)`` agent-steps.
    The mixer and the optimiser are left out (under 2% on these sizes).
    """
    n, a, h = spec["num_agents"], spec["num_actions"], config.hidden_dim
    inputs = spec["obs_dim"] + n * config.obs_agent_id + a * config.obs_last_action
    forward = 2.0 * (inputs * h + 6 * h * h + h * a)
    return 4.0 * forward * config.batch_size * n * (steps + 1)


def seed_update(env, learner_name: str, config: ValueLearnerConfig, seeds: int) -> tuple:
    """(compiled update vmapped over `seeds`, its arguments): the update the trainer runs, on
    one batch of `config.batch_size` random full-length episodes per seed."""
    learner = make_learner(learner_name, config, env.spec)
    keys = jax.random.split(jax.random.key(0), seeds)
    state = jax.vmap(learner.init)(keys)
    batch = jax.vmap(
        lambda k: random_episodes(k, env.spec, config.batch_size, env.spec["max_steps"])
    )(keys)
    return jax.jit(vmap_seeds(learner.update)), (keys, state, batch)


def measure(
    env_id: str, learner_name: str, seeds: int, repeats: int, batch_size: int = 32
) -> dict[str, float]:
    """GFLOP per update, update time and rates for one env (all seeds vmapped), on a batch of
    `batch_size` full-length episodes."""
    env = marta.envs.make(env_id)
    config = ValueLearnerConfig(batch_size=batch_size)
    update, args = seed_update(env, learner_name, config, seeds)
    flops = seeds * update_flops(env.spec, config, env.spec["max_steps"])
    seconds = best_time(update, *args, repeats=repeats)

    rows = config.batch_size * env.spec["num_agents"]
    h = jnp.ones((seeds, rows, config.hidden_dim))
    w = jnp.ones((seeds, config.hidden_dim, 3 * config.hidden_dim))
    matmul = jax.jit(lambda h, w: jnp.einsum("sij,sjk->sik", h, w))
    matmul_s = best_time(matmul, h, w, repeats=200)
    matmul_flops = 2.0 * h.size * w.shape[-1]
    return {
        "gflop_per_update": flops / 1e9,
        "update_ms": seconds * 1e3,
        "update_gflop_per_s": flops / seconds / 1e9,
        "gru_matmul_gflop_per_s": matmul_flops / matmul_s / 1e9,
    }


def update_parser(description: str) -> argparse.ArgumentParser:
    """The options shared by the update benchmarks (this script and update_trim.py): --env
    (repeatable), --learner, --seeds, --repeats."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--env", action="append", help="env id (repeatable)")
    parser.add_argument("--learner", default="qmix", choices=("iql", "vdn", "qmix"))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    return parser


def main() -> None:
    parser = update_parser(__doc__.splitlines()[0])
    parser.add_argument(
        "--batch-size", type=int, action="append", help="episodes per batch (repeatable; 32)"
    )
    args = parser.parse_args()
    print(f"{args.learner}, {args.seeds} seeds vmapped, batch of full-length episodes")
    for env_id in args.env or ["lbf-5x5-4p-1f"]:
        for batch_size in args.batch_size or [32]:
            row = measure(env_id, args.learner, args.seeds, args.repeats, batch_size)
            cells = "  ".join(f"{k} {v:.1f}" for k, v in row.items())
            print(f"{env_id} batch {batch_size}  {cells}", flush=True)


if __name__ == "__main__":
    main()
