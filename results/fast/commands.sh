#!/bin/bash
# issue 7: Table 2 at the `fast` budget (the paper's horizon and evaluation, 2.5x fewer learner
# updates: 40 envs per seed, learning rate x2.5; docs/reproduce.md "Budgets"), 2026-11-27.
# Four of the twelve runs had already been run with exactly these configs by `marta train`
# (results/tj4-vdn-fewer-updates: baseline and marta, seeds 0-2; results/mpe-maddpg-fewer-updates;
# the tj-6 QMIX baseline had stopped at 510k env steps); they were linked into the output
# directory (`marta reproduce` found them done, or resumed the tj-6 one, after checking that
# their configs are those of the budget).
cd "$(dirname "$0")/../.."
mkdir -p runs/fast/table2-tj-vdn runs/fast/table2-mpe-maddpg runs/fast/table2-tj-qmix
cp -al runs/tj4-vdn-e40/baseline-lr2.5x runs/fast/table2-tj-vdn/baseline
cp -al runs/tj4-vdn-e40/marta-lr2.5x runs/fast/table2-tj-vdn/marta
cp -al runs/mpe-maddpg-e40/baseline runs/fast/table2-mpe-maddpg/baseline
cp -al runs/mpe-maddpg-e40/marta runs/fast/table2-mpe-maddpg/marta
cp -al runs/tj6-qmix-e40/baseline-lr2.5x runs/fast/table2-tj-qmix/baseline
# The other eight runs, two at a time. --force: the directory holds the linked runs but no
# reproduce.json yet (no run differs, so nothing is replaced)
.venv/bin/marta reproduce --only table2 --budget fast --out runs/fast --force
# small files only (no checkpoints, no compilation cache), then the report from them
tar -C runs/fast --exclude=./.jax-cache --exclude='*/checkpoints' -cf - . | tar -C results/fast -xf -
.venv/bin/marta report results/fast
# From scratch, on an idle machine: .venv/bin/marta reproduce --only table2 --budget fast --out DIR
# 2026-11-28, later: the MPE presets now scale the Switcher's reward by 0.1; this folder's MPE
# MARTA run(s), made at k = 1 by the commands above, were replaced by k = 0.1 runs of the
# configs the budget now resolves, and moved to results/mpe-switcher-unscaled/ (second part
# of results/mpe-switcher-reward-scale/commands.sh).
# 2026-11-28, evening: the Traffic Junction presets now start the Switcher at
# initial_alpha 2.0; this folder's tj-4 MARTA-VDN and tj-6 MARTA-QMIX runs, made at 0.2 by the commands above, moved to
# results/tj-switcher-default-alpha/ (its README), and its place was taken by the same config
# with initial_alpha 2.0 (results/tj4-vdn-switcher-alpha and results/tj6-qmix-switcher-alpha/commands.sh).
# 2026-11-28, night: the figure presets at `fast` (issue 7), into a copy of this folder so
# that Table 2's runs count as done and Fig. 5's 4-agent runs are copied from Table 2's LBF
# QMIX row (docs/reproduce.md, "Runs of the same config"); Fig. 3 put first with --only;
# unfinished runs stay in runs/fast-all (checkpoints) for the next sitting of the same commands.
cp -r results/fast runs/fast-all
.venv/bin/marta reproduce --budget fast --out runs/fast-all --workers 2          # interrupted
.venv/bin/marta reproduce --only fig3-p-sweep --budget fast --out runs/fast-all --workers 2
# then the finished runs' small files (no checkpoints) back here, every preset.yaml and
# reproduce.json, and the report (docs/results.md, "Figures 2-5 and MARTA-B at the `fast` budget")
.venv/bin/marta report results/fast
# 2026-11-28, later: the remaining figure runs, in two more sittings (the first stopped by a
# full disk: the finished runs' checkpoints, 2.4 GB each on Traffic Junction; those deleted, and since a1bedf0 a finished
# run's checkpoint leaves out its replay buffers); both resumed the interrupted runs.
.venv/bin/marta reproduce --budget fast --out runs/fast-all --workers 2 \
    --only fig2a-cost-sweep fig3-p-sweep fig4-heatmap fig2b-case              # disk full
.venv/bin/marta reproduce --budget fast --out runs/fast-all --workers 2
.venv/bin/marta report results/fast   # after copying the finished runs' small files again
