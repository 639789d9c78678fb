#!/bin/bash
# issue 7: a fifth replicate (seeds 12-14) of the LBF VDN row at `paper`, the row whose
# twelve-seed CI ends just below 0. 2026-11-30, two pinned workers, 22 / 29 min side by side.
cd "$(dirname "$0")/../.."
.venv/bin/marta reproduce --only table2-lbf-vdn --budget paper --seed 12 \
  --out runs/paper-lbf-vdn-s12 --workers 2
tar -C runs/paper-lbf-vdn-s12 --exclude=./.jax-cache --exclude='*/checkpoints' \
  --exclude=.reproduce.lock -cf - . | tar -C results/paper-lbf-s12 -xf -
.venv/bin/marta report results/paper-lbf-s12
# fifteen seeds: seeds 0-2, 3-5, 6-8, 9-11, 12-14
B=""; M=""
for o in results/paper results/paper-lbf-s3 results/paper-lbf-s6 results/paper-s9 \
    results/paper-lbf-s12; do
  B="$B $o/table2-lbf-vdn/baseline"; M="$M $o/table2-lbf-vdn/marta"
done
.venv/bin/marta gain --baseline $B --marta $M --markdown
