#!/bin/bash
# issue 7: the Table 2 MPE MADDPG baseline (results/paper/table2-mpe-maddpg/baseline: random
# onsets, complex selection, p = 0.4) trained with worst-case fault actions (softmax(-Q) of its
# own critic) instead of uniform ones, seeds 0-2 and 3-5, side by side, one core each, on an
# otherwise idle machine (2026-11-28, 41 min each). Its Case 1 evaluation (worst-case faults
# at random onsets) is then MARTA-MADDPG's, so the two differ only in the Switcher.
cd "$(dirname "$0")/../.."
export XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
mkdir -p runs/mpe-maddpg-wc
for s in 0 3; do
  core=$([ $s = 0 ] && echo 0 || echo 1)
  taskset -c $core .venv/bin/marta train --config results/paper/table2-mpe-maddpg/baseline/config.yaml \
    --seed $s marta.train_fault.policy=worst_case --out runs/mpe-maddpg-wc/seed$s --progress log \
    > runs/mpe-maddpg-wc/seed$s.log 2>&1 &
done
wait
# small files only (no checkpoints), then the gains from the copies
W=results/mpe-maddpg-worst-case-baseline
for s in 0 3; do
  tar -C runs/mpe-maddpg-wc --exclude='*/checkpoints' -cf - seed$s | tar -C $W -xf -
  cp runs/mpe-maddpg-wc/seed$s.log $W/
done
P=results/paper/table2-mpe-maddpg; S=results/mpe-maddpg-seed3
# the worst-case-trained baseline against the uniform one (printed as "marta")
.venv/bin/marta gain --baseline $P/baseline $S/baseline --marta $W/seed0 $W/seed3 --markdown
# MARTA-MADDPG against the worst-case-trained baseline
.venv/bin/marta gain --baseline $W/seed0 $W/seed3 --marta $P/marta $S/marta --markdown
