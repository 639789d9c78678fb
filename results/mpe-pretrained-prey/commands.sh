#!/bin/bash
# issue 7: the two MPE Table 2 rows at `paper` (seeds 0-2) against the MADDPG-trained prey that
# ships with marta (env.prey_policy=pretrained, marta/envs/assets/simple_tag_prey.npz; EPyMARL
# lets its predators learn against a pretrained prey) instead of the presets' heuristic one
# (docs/envs/simple_tag.md). Companion of results/mpe-random-prey: does the MPE gain depend on
# the prey? 2026-11-29, an otherwise idle machine, two workers; two sittings of the same
# command: the MADDPG pair first (24.4 / 26.8 min, baseline / MARTA), then the QMIX pair (MADDPG
# skipped as done): 35.8 / 38.2 min; 1 h 05 min in all (report.md's header).
cd "$(dirname "$0")/../.."
.venv/bin/marta reproduce --only table2-mpe-qmix table2-mpe-maddpg --budget paper \
  --out runs/mpe-pretrained-prey --set env.prey_policy=pretrained --workers 2
# small files only (no checkpoints, no compilation cache), then the report from them
tar -C runs/mpe-pretrained-prey --exclude=./.jax-cache --exclude='*/checkpoints' \
  --exclude=.reproduce.lock -cf - . | tar -C results/mpe-pretrained-prey -xf -
.venv/bin/marta report results/mpe-pretrained-prey
for r in qmix maddpg; do
  .venv/bin/marta gain --baseline results/mpe-pretrained-prey/table2-mpe-$r/baseline \
    --marta results/mpe-pretrained-prey/table2-mpe-$r/marta --markdown
done
