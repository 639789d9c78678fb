#!/bin/bash
# issue 7: a fourth replicate (base seed 9: seeds 9-11) of the whole `paper`-budget Table 2,
# on an otherwise idle machine, to time the table in one go and add seeds to every row; the
# first sittings with `marta reproduce` starting runs by the work of their updates (update_work).
# 2026-11-29, two pinned workers. Sitting 1 (08:36): restarted after 3.4 min to take the new
# order; sitting 2 (08:40-10:35): tj-6 QMIX 64.2 / 64.6 min side by side, then LBF VDN
# 22.8 / 28.9 min and LBF QMIX 21.7 / 27.2 min, then interrupted (Ctrl-C) 5 and 1 minutes
# into the tj-4 VDN pair to free the machine for the test suite; sitting 3 (11:11-11:22):
# the tj-4 VDN pair resumed, interrupted again after 11 min; its checkpoints (in runs/, which
# is not kept between working sessions) were then lost. Sitting 4 (11:56-13:38), in a new
# working session: runs/paper-s9 rebuilt from this folder (the finished runs are skipped;
# the tj-4 VDN entries of reproduce.json cleared to {"status": "pending"}, which marta
# reproduce now does by itself for a run whose directory is gone), then the command below ran
# tj-4 VDN 36.3 / 38.9 min, MPE QMIX 35.8 / 38.4 min, MPE MADDPG 23.8 / 26.4 min from scratch.
# Sittings 2 + 4: 3 h 36 min for the whole table (7 h 09 min of run time); report.md's header.
cd "$(dirname "$0")/../.."
.venv/bin/marta reproduce --only table2 --budget paper --seed 9 --out runs/paper-s9 --workers 2
# small files only (no checkpoints, no compilation cache), then the report from them
tar -C runs/paper-s9 --exclude=./.jax-cache --exclude='*/checkpoints' --exclude=.reproduce.lock \
  -cf - . | tar -C results/paper-s9 -xf -
.venv/bin/marta report results/paper-s9
# every row over all replicates (twelve seeds; LBF QMIX nine): seeds 0-2, 3-5, 6-8, 9-11
P=results/paper; N=results/paper-s6; S=results/paper-s9
.venv/bin/marta gain --outputs $P results/paper-s3 $N $S --markdown   # tj-6 QMIX, MPE QMIX
.venv/bin/marta gain --baseline $P/table2-tj-vdn/baseline results/tj4-vdn-seed3/baseline \
  $N/table2-tj-vdn/baseline $S/table2-tj-vdn/baseline --marta $P/table2-tj-vdn/marta \
  results/tj4-vdn-switcher-alpha/seed3 $N/table2-tj-vdn/marta $S/table2-tj-vdn/marta --markdown
.venv/bin/marta gain --baseline $P/table2-mpe-maddpg/baseline results/mpe-maddpg-seed3/baseline \
  $N/table2-mpe-maddpg/baseline $S/table2-mpe-maddpg/baseline --marta $P/table2-mpe-maddpg/marta \
  results/mpe-switcher-reward-scale/maddpg/seed3 $N/table2-mpe-maddpg/marta \
  $S/table2-mpe-maddpg/marta --markdown
for r in lbf-vdn lbf-qmix; do
  B=""; M=""
  for o in $P results/paper-lbf-s3 results/paper-lbf-s6 $S; do
    if [ -d $o/table2-$r/baseline ]; then
      B="$B $o/table2-$r/baseline"; M="$M $o/table2-$r/marta"
    fi
  done
  .venv/bin/marta gain --baseline $B --marta $M --markdown
done
