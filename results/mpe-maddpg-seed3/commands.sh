#!/bin/bash
# issue 7: replication of the Table 2 MPE MADDPG row (results/paper/table2-mpe-maddpg, seeds 0-2)
# on seeds 3-5 (--seed 3), same configs, the two runs side by side, one core each (2026-11-27).
cd "$(dirname "$0")/../.."
export XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
for m in baseline marta; do
  core=$([ $m = baseline ] && echo 0 || echo 1)
  taskset -c $core .venv/bin/marta train --config results/paper/table2-mpe-maddpg/$m/config.yaml \
    --seed 3 --out runs/mpe-maddpg-s3/$m --progress log > runs/mpe-maddpg-s3/$m.log 2>&1 &
done
wait
# six-seed gains (seeds 0-2 from results/paper, 3-5 from here):
.venv/bin/marta gain --baseline results/paper/table2-mpe-maddpg/baseline results/mpe-maddpg-seed3/baseline \
  --marta results/paper/table2-mpe-maddpg/marta results/mpe-maddpg-seed3/marta
