#!/bin/bash
# issue 7: a third replicate (base seed 6: seeds 6-8) of the `paper`-budget Table 2 rows whose
# gain was a tie over six seeds: `tj-4` VDN, MPE MADDPG and MPE QMIX, and then of `tj-6` QMIX
# (the one clear gain over six seeds, so that every non-LBF row has nine), with the presets as they
# stand (TJ Switcher initial temperature 2.0, MPE Switcher reward scale 0.1,
# learner.length_groups=4 on TJ). 2026-11-29, two pinned workers on an otherwise idle machine
# (short tests on one core in the first 10 minutes): tj-4 VDN 41 min (baseline) and
# 46 min (MARTA) side by side, then MPE MADDPG 26 / 29 min, then MPE QMIX (second sitting);
# tj-6 QMIX in a third sitting, 73 / 77 min side by side (tests of one's own ran beside them
# for about 20 of those minutes).
cd "$(dirname "$0")/../.."
.venv/bin/marta reproduce --only table2-tj-vdn table2-mpe-maddpg --budget paper --seed 6 \
  --out runs/paper-s6 --workers 2
.venv/bin/marta reproduce --only table2-mpe-qmix --budget paper --seed 6 --out runs/paper-s6 \
  --workers 2
.venv/bin/marta reproduce --only table2-tj-qmix --budget paper --seed 6 --out runs/paper-s6 \
  --workers 2
# small files only (no checkpoints, no compilation cache), then the report from them
tar -C runs/paper-s6 --exclude=./.jax-cache --exclude='*/checkpoints' -cf - . | tar -C results/paper-s6 -xf -
.venv/bin/marta report results/paper-s6
# nine seeds per row: seeds 0-2 (results/paper), 3-5, 6-8 (this folder)
P=results/paper; N=results/paper-s6
.venv/bin/marta gain --baseline $P/table2-tj-vdn/baseline results/tj4-vdn-seed3/baseline \
  $N/table2-tj-vdn/baseline --marta $P/table2-tj-vdn/marta \
  results/tj4-vdn-switcher-alpha/seed3 $N/table2-tj-vdn/marta --markdown
.venv/bin/marta gain --baseline $P/table2-mpe-maddpg/baseline results/mpe-maddpg-seed3/baseline \
  $N/table2-mpe-maddpg/baseline --marta $P/table2-mpe-maddpg/marta \
  results/mpe-switcher-reward-scale/maddpg/seed3 $N/table2-mpe-maddpg/marta --markdown
# MPE QMIX and tj-6 QMIX, the rows in all three folders (tj-6: the seeds 0-2 baseline ran
# before learner.length_groups, a speed setting that does not change what is computed)
.venv/bin/marta gain --outputs $P results/paper-s3 $N --markdown
