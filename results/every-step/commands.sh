#!/bin/bash
# issue 7: Algorithm 1 literally on five Table 2 rows at `paper`: the Switcher may start a
# fault at every step (marta.switcher_onsets=every_step, c = 0) instead of only at the
# baseline's random onsets (Bernoulli(p), the presets' `random`; docs/marta.md). Everything
# else is results/paper's MARTA config (seeds 0-2); the baselines are results/paper's.
# 2026-11-29, one core per run (the logs' elapsed times): MPE MADDPG 26 min 37 s,
# tj-4 VDN 42 min 52 s, MPE QMIX 48 min 44 s (a test suite shared the machine for part of it),
# LBF VDN 49 min 47 s, tj-6 QMIX 1 h 09 min.
cd "$(dirname "$0")/../.."
export XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
R=runs/every-step
mkdir -p $R
run() {  # CORE ROW NAME
  taskset -c "$1" .venv/bin/marta train --config "results/paper/table2-$2/marta/config.yaml" \
    marta.switcher_onsets=every_step --out "$R/$3" --progress log > "$R/$3.log" 2>&1
}
(run 0 mpe-maddpg mpe-maddpg; run 0 mpe-qmix mpe-qmix; run 0 lbf-vdn lbf-vdn) &
(run 1 tj-vdn tj-vdn; run 1 tj-qmix tj-qmix) &
wait
for row in tj-vdn:tj-vdn tj-qmix:tj-qmix lbf-vdn:lbf-vdn mpe-maddpg:mpe-maddpg mpe-qmix:mpe-qmix; do
  .venv/bin/marta gain --baseline "results/paper/table2-${row%%:*}/baseline" --marta "$R/${row#*:}"
done
# small files: tar -C runs -cf - --exclude=checkpoints every-step | tar -C results -xf -
