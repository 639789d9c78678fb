#!/bin/bash
# issue 5: tj-4 VDN under persistent faults (mean 5 steps), baseline (uniform) vs MARTA (worst case)
cd /work/main
export XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
common="--env tj-4 --learner vdn --steps 1000000 --seeds 3 --eval-interval 10000 --eval-episodes 100 --fault-selection complex --fault-p 0.1 --fault-duration persistent --terminate-p 0.2 --progress log"
taskset -c 1 .venv/bin/marta train $common --method baseline --fault-policy uniform --out runs/tjp/baseline > runs/tjp/baseline.log 2>&1
taskset -c 1 .venv/bin/marta train $common --method marta --fault-policy worst_case --out runs/tjp/marta > runs/tjp/marta.log 2>&1
