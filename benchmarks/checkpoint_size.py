"""Checkpoint size of a run with and without its replay buffers (docs/running.md).

For each preset run, builds the trainer's state with ``jax.eval_shape`` (nothing is
compiled or allocated) and sums the bytes of its leaves: all of them (a checkpoint written
during training) and those outside the replay buffers (the last checkpoint of a finished run,
`marta.experiments.runner.in_replay_buffer`). The ``.npz`` adds a few hundred bytes per leaf.

    .venv/bin/python benchmarks/checkpoint_size.py --budget paper \
        table2-tj-vdn/marta table2-tj-qmix/marta table2-lbf-qmix/marta table2-mpe-maddpg/marta
"""

from __future__ import annotations

import argparse

import jax
import numpy as np

from marta.core import seed_keys
from marta.experiments.runner import build_trainer, in_replay_buffer
from marta.reproduce.presets import load_preset, resolve_config


def state_bytes(config) -> tuple[int, int]:
    """(bytes of every state leaf, bytes of the leaves outside the replay buffers)."""
    trainer = build_trainer(config)
    shapes = jax.eval_shape(jax.vmap(trainer.init), seed_keys(config.seed, config.num_seeds))
    total = kept = 0
    for path, leaf in jax.tree_util.tree_flatten_with_path(shapes)[0]:
        size = int(np.prod(leaf.shape)) * leaf.dtype.itemsize
        total += size
        kept += 0 if in_replay_buffer(path) else size
    return total, kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", metavar="PRESET/RUN")
    parser.add_argument("--budget", default="paper")
    args = parser.parse_args()
    for item in args.runs:
        preset_name, run_name = item.split("/")
        preset = load_preset(preset_name)
        run = next(r for r in preset.runs if r.name == run_name)
        total, kept = state_bytes(resolve_config(preset, run, args.budget))
        print(f"{item} ({args.budget}): {total / 1e9:.3f} GB, without buffers {kept / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
