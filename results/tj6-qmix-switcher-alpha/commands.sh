#!/bin/bash
# issue 7: MARTA-QMIX on tj-6 (Table 2 row 2, the `paper` budget) with a ten times larger
# initial Switcher temperature (marta.switcher.initial_alpha=2.0), the change that took the
# tj-4 VDN row from a loss to a tie (results/tj4-vdn-switcher-alpha): does this row keep its
# gain? Seeds 0-2 and 3-5 side by side, one core each, XLA single-threaded, on an otherwise
# idle machine (2026-11-28, 69 and 73 min). The config is the one `marta reproduce --budget
# paper` resolved for table2-tj-qmix/marta before the presets took initial_alpha 2.0 on
# Traffic Junction (with the override it is exactly what they resolve now).
cd "$(dirname "$0")/../.."
export XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
R=runs/tj6-alpha
mkdir -p $R
.venv/bin/python -c "
from marta.reproduce.runs import plan_runs
from marta.reproduce.presets import select_presets
from marta.experiments.config import save_config
(spec,) = [s for s in plan_runs(select_presets(['table2-tj-qmix']), 'paper') if s.run == 'marta']
save_config(spec.config, '$R/marta.yaml')"
for s in 0 3; do
  core=$([ $s = 0 ] && echo 0 || echo 1)
  taskset -c $core .venv/bin/marta train --config $R/marta.yaml --seed $s \
    marta.switcher.initial_alpha=2.0 --out $R/seed$s --progress log > $R/seed$s.log 2>&1 &
done
wait
W=results/tj6-qmix-switcher-alpha
for s in 0 3; do
  tar -C $R --exclude='*/checkpoints' --exclude='.jax-cache' -cf - seed$s | tar -C $W -xf -
  cp $R/seed$s.log $W/
done
# against the uniform baseline (seeds 0-2: results/paper, 3-5: results/paper-s3) and against
# MARTA-QMIX with the default initial temperature (moved to results/tj-switcher-default-alpha)
B=results/paper/table2-tj-qmix; S=results/paper-s3/table2-tj-qmix
D=results/tj-switcher-default-alpha
.venv/bin/marta gain --baseline $B/baseline $S/baseline --marta $W/seed0 $W/seed3 --markdown
.venv/bin/marta gain --baseline $D/paper/table2-tj-qmix/marta $D/paper-s3/table2-tj-qmix/marta \
  --marta $W/seed0 $W/seed3 --markdown

# The same at the `fast` budget (2.5x fewer updates, lr x2.5), seeds 0-2 and 3-5 side by side
# (33 min each), against results/fast and results/fast-s3 (fast/):
.venv/bin/python -c "
from marta.reproduce.runs import plan_runs
from marta.reproduce.presets import select_presets
from marta.experiments.config import save_config
(spec,) = [s for s in plan_runs(select_presets(['table2-tj-qmix']), 'fast') if s.run == 'marta']
save_config(spec.config, '$R/marta-fast.yaml')"
for s in 0 3; do
  core=$([ $s = 0 ] && echo 0 || echo 1)
  taskset -c $core .venv/bin/marta train --config $R/marta-fast.yaml --seed $s \
    marta.switcher.initial_alpha=2.0 --out $R/fast-seed$s --progress log > $R/fast-seed$s.log 2>&1 &
done
wait
mkdir -p $W/fast
for s in 0 3; do
  tar -C $R --exclude='*/checkpoints' --exclude='.jax-cache' -cf - fast-seed$s | tar -C $W/fast -xf -
  mv $W/fast/fast-seed$s $W/fast/seed$s
  cp $R/fast-seed$s.log $W/fast/seed$s.log
done
F=results/fast/table2-tj-qmix; G=results/fast-s3/table2-tj-qmix
.venv/bin/marta gain --baseline $F/baseline $G/baseline --marta $W/fast/seed0 $W/fast/seed3 --markdown
.venv/bin/marta gain --baseline $D/fast/table2-tj-qmix/marta $D/fast-s3/table2-tj-qmix/marta \
  --marta $W/fast/seed0 $W/fast/seed3 --markdown
# 2026-11-28, evening: the Traffic Junction presets adopted initial_alpha 2.0 on these
# results; the runs were copied into results/paper/table2-tj-qmix/marta (seed0),
# results/paper-s3/table2-tj-qmix/marta (seed3), results/fast/table2-tj-qmix/marta and
# results/fast-s3/table2-tj-qmix/marta (fast/).
