#!/bin/bash
# issue 7: a replicate of results/paper's `tj-6` QMIX and MPE QMIX rows (Table 2 at the `paper`
# budget) on base seed 3 (seeds 3-5). tj-6 QMIX, 2026-11-28 01:22: both runs side by side,
# one pinned worker each, 1 h 58 min (baseline) and 2 h 10 min (MARTA), machine otherwise
# idle except for short one-core benchmarks in the first 20 minutes. The `paper` budget now sets
# learner.length_groups=4 on TJ, which the seed-0 runs of results/paper predate (same loss
# and gradient up to float rounding: docs/learners.md "Groups"; it only changes speed).
cd "$(dirname "$0")/../.."
.venv/bin/marta reproduce --only table2-tj-qmix --budget paper --seed 3 --out runs/paper-s3
# MPE QMIX, 2026-11-28 04:46, a second sitting into the same folder: both runs side by side on an
# otherwise idle machine, 57 min (baseline) and 61 min (MARTA)
.venv/bin/marta reproduce --only table2-mpe-qmix --budget paper --seed 3 --out runs/paper-s3
# small files only (no checkpoints, no compilation cache), then the report from them
tar -C runs/paper-s3 --exclude=./.jax-cache --exclude='*/checkpoints' -cf - . | tar -C results/paper-s3 -xf -
.venv/bin/marta report results/paper-s3
# the six seeds pooled (seeds 0-2 from results/paper)
.venv/bin/marta gain --outputs results/paper results/paper-s3 --markdown
.venv/bin/marta gain --baseline results/paper/table2-tj-qmix/baseline \
  results/paper-s3/table2-tj-qmix/baseline --marta results/paper/table2-tj-qmix/marta \
  results/paper-s3/table2-tj-qmix/marta --markdown
.venv/bin/marta gain --baseline results/paper/table2-mpe-qmix/baseline \
  results/paper-s3/table2-mpe-qmix/baseline --marta results/paper/table2-mpe-qmix/marta \
  results/paper-s3/table2-mpe-qmix/marta --markdown
# 2026-11-28, later: the MPE presets now scale the Switcher's reward by 0.1; this folder's MPE
# MARTA run(s), made at k = 1 by the commands above, were replaced by k = 0.1 runs of the
# configs the budget now resolves, and moved to results/mpe-switcher-unscaled/ (second part
# of results/mpe-switcher-reward-scale/commands.sh).
# 2026-11-28, evening: the Traffic Junction presets now start the Switcher at
# initial_alpha 2.0; this folder's tj-6 MARTA-QMIX run, made at 0.2 by the commands above, moved to
# results/tj-switcher-default-alpha/ (its README), and its place was taken by the same config
# with initial_alpha 2.0 (results/tj6-qmix-switcher-alpha/commands.sh).
