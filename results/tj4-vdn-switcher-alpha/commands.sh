#!/bin/bash
# issue 7: MARTA-VDN on tj-4 (Table 2 row 1, the `paper` budget) with a ten times larger
# initial Switcher temperature (marta.switcher.initial_alpha=2.0), the change that on MPE
# MADDPG made the Switcher explore longer before committing (docs/switcher.md, "Reward
# scale"). Seeds 0-2 and 3-5 side by side, one core each, XLA single-threaded, on an
# otherwise idle machine (2026-11-28). The config is the one `marta reproduce --budget paper`
# resolves for table2-tj-vdn/marta (with learner.length_groups=4, as results/tj4-vdn-seed3;
# results/paper's seeds 0-2 ran without it: same loss, faster updates).
cd "$(dirname "$0")/../.."
export XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
R=runs/tj4-alpha
mkdir -p $R
.venv/bin/python -c "
from marta.reproduce.runs import plan_runs
from marta.reproduce.presets import select_presets
from marta.experiments.config import save_config
(spec,) = [s for s in plan_runs(select_presets(['table2-tj-vdn']), 'paper') if s.run == 'marta']
save_config(spec.config, '$R/marta.yaml')"
for s in 0 3; do
  core=$([ $s = 0 ] && echo 0 || echo 1)
  taskset -c $core .venv/bin/marta train --config $R/marta.yaml --seed $s \
    marta.switcher.initial_alpha=2.0 --out $R/seed$s --progress log > $R/seed$s.log 2>&1 &
done
wait
W=results/tj4-vdn-switcher-alpha
for s in 0 3; do
  tar -C $R --exclude='*/checkpoints' --exclude='.jax-cache' -cf - seed$s | tar -C $W -xf -
  cp $R/seed$s.log $W/
done
# against the uniform baseline (seeds 0-2: results/paper, 3-5: results/tj4-vdn-seed3) and
# against MARTA-VDN with the default initial temperature
B=results/paper/table2-tj-vdn; S=results/tj4-vdn-seed3
.venv/bin/marta gain --baseline $B/baseline $S/baseline --marta $W/seed0 $W/seed3 --markdown
D=results/tj-switcher-default-alpha  # the default-temperature runs, since moved there
.venv/bin/marta gain --baseline $D/paper/table2-tj-vdn/marta $D/tj4-vdn-seed3/marta \
  --marta $W/seed0 $W/seed3 --markdown

# The same at the `fast` budget (2.5x fewer updates, lr x2.5), seeds 0-2 and 3-5 side by side,
# against results/fast and results/fast-s3 (fast/):
.venv/bin/python -c "
from marta.reproduce.runs import plan_runs
from marta.reproduce.presets import select_presets
from marta.experiments.config import save_config
(spec,) = [s for s in plan_runs(select_presets(['table2-tj-vdn']), 'fast') if s.run == 'marta']
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
F=results/fast/table2-tj-vdn; G=results/fast-s3/table2-tj-vdn
.venv/bin/marta gain --baseline $F/baseline $G/baseline --marta $W/fast/seed0 $W/fast/seed3 --markdown
.venv/bin/marta gain --baseline $D/fast/table2-tj-vdn/marta $D/fast-s3/table2-tj-vdn/marta \
  --marta $W/fast/seed0 $W/fast/seed3 --markdown
# 2026-11-28, evening: the Traffic Junction presets adopted initial_alpha 2.0; these runs
# were copied into results/paper/table2-tj-vdn/marta (seed0), results/tj4-vdn-seed3/marta
# (seed3), results/fast/table2-tj-vdn/marta and results/fast-s3/table2-tj-vdn/marta (fast/).
