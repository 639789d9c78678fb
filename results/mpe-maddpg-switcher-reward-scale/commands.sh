#!/bin/bash
# issue 7: MARTA-MADDPG on the Table 2 MPE row (results/paper/table2-mpe-maddpg/marta: complex
# selection, p = 0.4, worst-case fault actions) with the Switcher's reward scaled by 0.1
# (`marta.switcher.reward_scale=0.1`, the team learner's own reward scale on this row),
# seeds 0-2 and 3-5 side by side, one core each, on an otherwise idle machine (2026-11-28, 46 min
# each).
cd "$(dirname "$0")/../.."
export XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
R=runs/mpe-maddpg-rs
mkdir -p $R
for s in 0 3; do
  core=$([ $s = 0 ] && echo 0 || echo 1)
  taskset -c $core .venv/bin/marta train --config results/paper/table2-mpe-maddpg/marta/config.yaml \
    --seed $s marta.switcher.reward_scale=0.1 --out $R/seed$s --progress log \
    > $R/seed$s.log 2>&1 &
done
wait
# small files only (no checkpoints), then the gains from the copies
W=results/mpe-maddpg-switcher-reward-scale
for s in 0 3; do
  tar -C $R --exclude='*/checkpoints' --exclude='.jax-cache' --exclude='.reproduce.lock' -cf - seed$s | tar -C $W -xf -
  cp $R/seed$s.log $W/
done
P=results/paper/table2-mpe-maddpg; S=results/mpe-maddpg-seed3
# against the uniform baseline (Table 2's comparison)
.venv/bin/marta gain --baseline $P/baseline $S/baseline --marta $W/seed0 $W/seed3 --markdown
# against MARTA-MADDPG with the Switcher's reward unscaled
.venv/bin/marta gain --baseline $P/marta $S/marta --marta $W/seed0 $W/seed3 --markdown
