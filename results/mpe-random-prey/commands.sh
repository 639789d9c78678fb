#!/bin/bash
# issue 7: the two MPE Table 2 rows at `paper` (seeds 0-2) against a uniformly random prey
# instead of the presets' heuristic one (env.prey_policy=random; docs/envs/simple_tag.md). The
# paper does not say what controls the prey; its returns (QMIX 395-480, MADDPG 267-298) are
# closer to what a team earns against a weak prey than against our fleeing heuristic (about
# 40-75), so this asks whether the MPE gains depend on the prey. 2026-11-29, one sitting of
# 1 h 02 min on an otherwise idle machine, two workers: QMIX 34.9 / 37.3 min, MADDPG
# 24.1 / 26.7 min (baseline / MARTA).
cd "$(dirname "$0")/../.."
.venv/bin/marta reproduce --only table2-mpe-qmix table2-mpe-maddpg --budget paper \
  --out runs/mpe-random-prey --set env.prey_policy=random --workers 2
# small files only (no checkpoints, no compilation cache), then the report from them
tar -C runs/mpe-random-prey --exclude=./.jax-cache --exclude='*/checkpoints' \
  --exclude=.reproduce.lock -cf - . | tar -C results/mpe-random-prey -xf -
.venv/bin/marta report results/mpe-random-prey
for r in qmix maddpg; do
  .venv/bin/marta gain --baseline results/mpe-random-prey/table2-mpe-$r/baseline \
    --marta results/mpe-random-prey/table2-mpe-$r/marta --markdown
done
