#!/bin/bash
# issue 7: the Table 2 MPE MADDPG row (results/paper/table2-mpe-maddpg) with 2.5x fewer updates
# per env step (train.num_envs=40: 4 updates per 200 env steps per seed instead of per 80) and
# a 2.5x larger learning rate (learner.lr=0.00125), seeds 0-2, the two runs side by side, one
# core each, XLA single-threaded (2026-11-27). As results/tj4-vdn-fewer-updates/ for tj-4 VDN.
cd "$(dirname "$0")/../.."
export XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
mkdir -p runs/mpe-maddpg-e40
for m in baseline marta; do
  core=$([ $m = baseline ] && echo 0 || echo 1)
  taskset -c $core .venv/bin/marta train --config results/paper/table2-mpe-maddpg/$m/config.yaml \
    --out runs/mpe-maddpg-e40/$m --progress log train.num_envs=40 learner.lr=0.00125 \
    > runs/mpe-maddpg-e40/$m.log 2>&1 &
done
wait
.venv/bin/marta gain --baseline results/mpe-maddpg-fewer-updates/baseline \
  --marta results/mpe-maddpg-fewer-updates/marta
