#!/bin/bash
# issue 7: the Table 2 tj-4 VDN row (results/paper/table2-tj-vdn) with 2.5x fewer updates per
# env step (train.num_envs=40: one update per 200 env steps per seed instead of 80): the
# baseline with the paper budget's learning rate (samelr-baseline), and both methods with a
# 2.5x larger one (learner.lr=0.00125) on seeds 0-2 and 3-5. One run per core, XLA
# single-threaded, two at a time (2026-11-27). Small files copied here from runs/tj4-vdn-e40/.
# BENCHMARKS.md "Table 2 in 4 hours?"; docs/results.md "The tj-4 VDN row at 2.5x fewer updates".
cd "$(dirname "$0")/../.."
export XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
out=runs/tj4-vdn-e40
mkdir -p $out
train() {  # core method name [overrides and options...]
  local core=$1 method=$2 name=$3
  shift 3
  taskset -c "$core" .venv/bin/marta train --config results/paper/table2-tj-vdn/$method/config.yaml \
    --out $out/$name --progress log learner.length_groups=4 train.num_envs=40 "$@" \
    > $out/$name.log 2>&1
}
train 0 baseline samelr-baseline &
train 1 baseline baseline learner.lr=0.00125 &
wait
train 0 marta marta learner.lr=0.00125 &
train 1 baseline baseline-seed3 learner.lr=0.00125 --seed 3 &
wait
train 0 marta marta-seed3 learner.lr=0.00125 --seed 3
# six-seed gain at this update ratio:
.venv/bin/marta gain \
  --baseline results/tj4-vdn-fewer-updates/baseline results/tj4-vdn-fewer-updates/baseline-seed3 \
  --marta results/tj4-vdn-fewer-updates/marta results/tj4-vdn-fewer-updates/marta-seed3
