#!/bin/bash
# issue 7: replication of the Table 2 tj-4 VDN row (results/paper/table2-tj-vdn, seeds 0-2)
# on seeds 3-5 (--seed 3), same configs plus the paper budget's current
# learner.length_groups=4 (same loss, faster late updates), the two runs side by side, one
# core each (2026-11-27; MARTA was stopped at 1.1M env steps by the end of a session and
# finished with `marta train --resume runs/tj4-vdn-s3/marta`).
cd "$(dirname "$0")/../.."
export XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
mkdir -p runs/tj4-vdn-s3
# (the seed-0 MARTA run whose config this used is now in results/tj-switcher-default-alpha/paper)
D=results/tj-switcher-default-alpha/paper/table2-tj-vdn
for m in baseline marta; do
  core=$([ $m = baseline ] && echo 0 || echo 1)
  cfg=$([ $m = baseline ] && echo results/paper/table2-tj-vdn/baseline || echo $D/marta)/config.yaml
  taskset -c $core .venv/bin/marta train --config $cfg \
    --seed 3 --out runs/tj4-vdn-s3/$m --progress log learner.length_groups=4 \
    > runs/tj4-vdn-s3/$m.log 2>&1 &
done
wait
# six-seed gains (seeds 0-2 from results/paper, 3-5 from here):
.venv/bin/marta gain --baseline results/paper/table2-tj-vdn/baseline results/tj4-vdn-seed3/baseline \
  --marta results/tj-switcher-default-alpha/paper/table2-tj-vdn/marta \
  results/tj-switcher-default-alpha/tj4-vdn-seed3/marta
# 2026-11-28, evening: the Traffic Junction presets now start the Switcher at initial_alpha
# 2.0; this folder's MARTA run, made at 0.2 above, moved to results/tj-switcher-default-alpha/
# and its place was taken by seeds 3-5 of results/tj4-vdn-switcher-alpha (that commands.sh).
