#!/bin/bash
# issue 7: MARTA on the two Table 2 MPE rows with the Switcher's reward scaled by 0.1
# (`marta.switcher.reward_scale=0.1`, the team learners' own reward scale on these rows):
#   maddpg: results/paper/table2-mpe-maddpg/marta (complex selection, p = 0.4), 46 min each;
#   qmix:   results/paper/table2-mpe-qmix/marta (simple selection, agent 0, p = 0.1), 65 min each.
# Each row on seeds 0-2 and 3-5 side by side, one core each, on an otherwise idle machine
# (2026-11-28), MADDPG first. The baselines are the paper-budget ones (no Switcher).
cd "$(dirname "$0")/../.."
export XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
W=results/mpe-switcher-reward-scale
for row in maddpg qmix; do
  R=runs/mpe-$row-rs
  mkdir -p $R
  for s in 0 3; do
    core=$([ $s = 0 ] && echo 0 || echo 1)
    taskset -c $core .venv/bin/marta train --config results/paper/table2-mpe-$row/marta/config.yaml \
      --seed $s marta.switcher.reward_scale=0.1 --out $R/seed$s --progress log \
      > $R/seed$s.log 2>&1 &
  done
  wait
  # small files only (no checkpoints)
  mkdir -p $W/$row
  for s in 0 3; do
    tar -C $R --exclude='*/checkpoints' --exclude='.jax-cache' --exclude='.reproduce.lock' \
      -cf - seed$s | tar -C $W/$row -xf -
    cp $R/seed$s.log $W/$row/
  done
done
# the gains from the copies: against the uniform baselines (Table 2's comparison), then
# against MARTA with the Switcher's reward unscaled
P=results/paper/table2-mpe-maddpg; S=results/mpe-maddpg-seed3
.venv/bin/marta gain --baseline $P/baseline $S/baseline --marta $W/maddpg/seed0 $W/maddpg/seed3 --markdown
.venv/bin/marta gain --baseline $P/marta $S/marta --marta $W/maddpg/seed0 $W/maddpg/seed3 --markdown
P=results/paper/table2-mpe-qmix; S=results/paper-s3/table2-mpe-qmix
.venv/bin/marta gain --baseline $P/baseline $S/baseline --marta $W/qmix/seed0 $W/qmix/seed3 --markdown
.venv/bin/marta gain --baseline $P/marta $S/marta --marta $W/qmix/seed0 $W/qmix/seed3 --markdown
