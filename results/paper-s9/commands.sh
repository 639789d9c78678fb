#!/bin/bash
# issue 7: a fourth replicate (base seed 9: seeds 9-11) of the whole `paper`-budget Table 2,
# on an otherwise idle machine, to time the table in one go and add seeds to every row; the
# first sitting with `marta reproduce` starting runs by the work of their updates (update_work).
# 2026-11-29, two pinned workers. Sitting 1 (08:36): restarted after 3.4 min to take the new
# order; sitting 2 (08:40-10:35): tj-6 QMIX 64.2 / 64.6 min side by side, then LBF VDN
# 22.8 / 28.9 min and LBF QMIX 21.7 / 27.2 min, then interrupted (Ctrl-C) 5 and 1 minutes
# into the tj-4 VDN pair to free the machine for the test suite; sitting 3 (11:11-11:22):
# the tj-4 VDN pair resumed, interrupted again after 11 min (MARTA at 420k, baseline at 340k
# env steps). This folder holds the six finished runs; rerun the command to resume tj-4 VDN
# and run MPE QMIX and MPE MADDPG.
cd "$(dirname "$0")/../.."
.venv/bin/marta reproduce --only table2 --budget paper --seed 9 --out runs/paper-s9 --workers 2
# small files only (no checkpoints, no compilation cache), then the report from them
tar -C runs/paper-s9 --exclude=./.jax-cache --exclude='*/checkpoints' -cf - . | tar -C results/paper-s9 -xf -
.venv/bin/marta report results/paper-s9
# every row over all replicates: seeds 0-2, 3-5, 6-8 (LBF VDN: results/paper-lbf-s6), 9-11
.venv/bin/marta gain --outputs results/paper results/paper-s3 results/paper-s6 results/paper-s9 \
  --markdown
for r in lbf-vdn lbf-qmix; do
  B=""; M=""
  for o in results/paper results/paper-lbf-s3 results/paper-lbf-s6 results/paper-s9; do
    if [ -d $o/table2-$r/baseline ]; then
      B="$B $o/table2-$r/baseline"; M="$M $o/table2-$r/marta"
    fi
  done
  .venv/bin/marta gain --baseline $B --marta $M --markdown
done
