#!/bin/bash
# issue 7: the tj-4 VDN row of Table 2 at `paper`, seeds 0-2, with persistent faults for both
# methods: a fault runs on until a Bernoulli(0.5) termination (mean 2 steps), the low end of the
# "Probability of terminating option [0.5, 0.75, 0.8, 0.9, 0.95]" in the paper's hyperparameter
# table (the presets use one-step faults, as the paper's text describes them). 2026-11-30, two
# pinned workers, 36 / 38 min side by side while the machine ran short tests.
cd "$(dirname "$0")/../.."
.venv/bin/marta reproduce --only table2-tj-vdn --budget paper --out runs/tj4-persist-q0.5 \
  --workers 2 --set marta.train_fault.duration=persistent marta.train_fault.terminate_p=0.5
# small files only (no checkpoints, no compilation cache)
tar -C runs/tj4-persist-q0.5 --exclude=./.jax-cache --exclude='*/checkpoints' \
  --exclude=.reproduce.lock -cf - . | tar -C results/tj4-vdn-persistent-q0.5 -xf -
.venv/bin/marta gain --baseline results/tj4-vdn-persistent-q0.5/table2-tj-vdn/baseline \
  --marta results/tj4-vdn-persistent-q0.5/table2-tj-vdn/marta
