#!/bin/bash
# issue 5: replication of results/tj4-persistent on seeds 3-5 (--seed 3): tj-4 VDN under
# persistent faults (mean 5 steps), baseline (uniform) vs MARTA (worst case), then the arg-min
# evaluation of both (eval/argmin-persistent-p0.1.json)
cd /work/main
export XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
common="--env tj-4 --learner vdn --steps 1000000 --seeds 3 --seed 3 --eval-interval 10000 --eval-episodes 100 --fault-selection complex --fault-p 0.1 --fault-duration persistent --terminate-p 0.2 --progress log"
taskset -c 1 .venv/bin/marta train $common --method baseline --fault-policy uniform --out runs/tjp2/baseline > runs/tjp2/baseline.log 2>&1
taskset -c 1 .venv/bin/marta train $common --method marta --fault-policy worst_case --out runs/tjp2/marta > runs/tjp2/marta.log 2>&1
for r in baseline marta; do
  .venv/bin/marta eval --run runs/tjp2/$r --episodes 200 --fault-selection complex --fault-p 0.1 \
    --fault-policy worst_case --fault-temperature 0.01 --fault-duration persistent --terminate-p 0.2
done
