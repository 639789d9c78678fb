#!/bin/bash
# issue 7: a second replicate (base seed 3: seeds 3-5) of the two LBF rows of Table 2 at the
# `paper` budget, with the presets as they stand (learner.length_groups=4 on LBF), to time
# them on the current code (the recorded LBF QMIX times predate the batch cut) and to give
# them six seeds. 2026-11-29, one sitting, two pinned workers on an otherwise idle machine
# (short tests of one's own on the same cores for about 15 of the first 30 minutes):
# LBF VDN 25.5 min (baseline) and 31.8 min (MARTA) side by side, then LBF QMIX 23.9 / 31.2 min;
# 1 h 03 min for the sitting.
cd "$(dirname "$0")/../.."
.venv/bin/marta reproduce --only table2-lbf-qmix table2-lbf-vdn --budget paper --seed 3 \
  --out runs/paper-lbf-s3 --workers 2
# small files only (no checkpoints, no compilation cache), then the report from them
tar -C runs/paper-lbf-s3 --exclude=./.jax-cache --exclude='*/checkpoints' -cf - . | tar -C results/paper-lbf-s3 -xf -
.venv/bin/marta report results/paper-lbf-s3
# six seeds per row: seeds 0-2 (results/paper), 3-5 (this folder)
P=results/paper; N=results/paper-lbf-s3
for row in table2-lbf-vdn table2-lbf-qmix; do
  .venv/bin/marta gain --baseline $P/$row/baseline $N/$row/baseline \
    --marta $P/$row/marta $N/$row/marta --markdown
done
