#!/bin/bash
# issue 7: a replicate of results/fast (Table 2 at the `fast` budget, base seed 0) on base seed
# 3 for four of its six rows (2026-11-27), in `marta reproduce --seed 3` layout, so that
#   .venv/bin/marta gain --outputs results/fast results/fast-s3
# pools each row's six seeds. The runs were made with `marta train --config
# results/fast/<preset>/<run>/config.yaml --seed 3`, two at a time, one core each (XLA
# single-threaded): the tj-4 VDN pair earlier (results/tj4-vdn-fewer-updates/commands.sh),
# the other three pairs by the scripts below; then linked into runs/fast-s3, where
# `marta reproduce` checked that their configs are those of the budget with seed 3 and found
# them done. The LBF rows were not replicated (both methods at or near the maximum return).
cd "$(dirname "$0")/../.."
export XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
train() {  # preset run core out
  taskset -c "$3" .venv/bin/marta train --config "results/fast/$1/$2/config.yaml" --seed 3 \
    --out "$4" --progress log > "$4.log" 2>&1
}
mkdir -p runs/tj6-qmix-fast-s3 runs/mpe-qmix-fast-s3 runs/mpe-maddpg-fast-s3
for row in tj6-qmix:table2-tj-qmix mpe-qmix:table2-mpe-qmix mpe-maddpg:table2-mpe-maddpg; do
  train "${row#*:}" baseline 0 "runs/${row%%:*}-fast-s3/baseline" &
  train "${row#*:}" marta 1 "runs/${row%%:*}-fast-s3/marta" &
  wait
done
mkdir -p runs/fast-s3/table2-tj-vdn runs/fast-s3/table2-tj-qmix runs/fast-s3/table2-mpe-qmix \
  runs/fast-s3/table2-mpe-maddpg
for m in baseline marta; do
  cp -al runs/tj4-vdn-e40/$m-lr2.5x-s3 runs/fast-s3/table2-tj-vdn/$m
  cp -al runs/tj6-qmix-fast-s3/$m runs/fast-s3/table2-tj-qmix/$m
  cp -al runs/mpe-qmix-fast-s3/$m runs/fast-s3/table2-mpe-qmix/$m
  cp -al runs/mpe-maddpg-fast-s3/$m runs/fast-s3/table2-mpe-maddpg/$m
done
# --force: the directory holds the linked runs but no reproduce.json yet
.venv/bin/marta reproduce --only table2-tj-vdn table2-tj-qmix table2-mpe-qmix table2-mpe-maddpg \
  --budget fast --seed 3 --out runs/fast-s3 --force --no-report
# small files only (no checkpoints, no compilation cache), then the report from them
tar -C runs/fast-s3 --exclude=./.jax-cache --exclude='*/checkpoints' -cf - . | tar -C results/fast-s3 -xf -
.venv/bin/marta report results/fast-s3
.venv/bin/marta gain --outputs results/fast results/fast-s3 --markdown
# 2026-11-28, later: the MPE presets now scale the Switcher's reward by 0.1; this folder's MPE
# MARTA run(s), made at k = 1 by the commands above, were replaced by k = 0.1 runs of the
# configs the budget now resolves, and moved to results/mpe-switcher-unscaled/ (second part
# of results/mpe-switcher-reward-scale/commands.sh).
# 2026-11-28, evening: the Traffic Junction presets now start the Switcher at
# initial_alpha 2.0; this folder's tj-4 MARTA-VDN and tj-6 MARTA-QMIX runs, made at 0.2 by the commands above, moved to
# results/tj-switcher-default-alpha/ (its README), and its place was taken by the same config
# with initial_alpha 2.0 (results/tj4-vdn-switcher-alpha and results/tj6-qmix-switcher-alpha/commands.sh).
