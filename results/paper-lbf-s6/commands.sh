#!/bin/bash
# issue 7: a third replicate (base seed 6: seeds 6-8) of the LBF VDN row of Table 2 at the
# `paper` budget, after seeds 3-5 turned its six-seed gain into a small loss with a CI below 0
# (one MARTA seed's late dip). 2026-11-29, one sitting, two pinned workers on an otherwise idle
# machine, the presets as they stand.
cd "$(dirname "$0")/../.."
.venv/bin/marta reproduce --only table2-lbf-vdn --budget paper --seed 6 --out runs/paper-lbf-s6 \
  --workers 2
# small files only (no checkpoints, no compilation cache), then the report from them
tar -C runs/paper-lbf-s6 --exclude=./.jax-cache --exclude='*/checkpoints' -cf - . | tar -C results/paper-lbf-s6 -xf -
.venv/bin/marta report results/paper-lbf-s6
# nine seeds: seeds 0-2 (results/paper), 3-5 (results/paper-lbf-s3), 6-8 (this folder)
R=table2-lbf-vdn
.venv/bin/marta gain --baseline results/paper/$R/baseline results/paper-lbf-s3/$R/baseline \
  results/paper-lbf-s6/$R/baseline --marta results/paper/$R/marta results/paper-lbf-s3/$R/marta \
  results/paper-lbf-s6/$R/marta --markdown
