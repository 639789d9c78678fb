#!/bin/bash
# issue 7: MARTA on the two Table 2 MPE rows with the Switcher's reward scaled by 0.1
# (`marta.switcher.reward_scale=0.1`, the team learners' own reward scale on these rows):
#   maddpg: results/paper/table2-mpe-maddpg/marta (complex selection, p = 0.4), 46 min each;
#   qmix:   results/paper/table2-mpe-qmix/marta (simple selection, agent 0, p = 0.1), 65 min each.
# Each row on seeds 0-2 and 3-5 side by side, one core each, on an otherwise idle machine
# (2026-11-28), MADDPG first. The baselines are the paper-budget ones (no Switcher).
cd "$(dirname "$0")/../.."
export XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
W=results/mpe-switcher-reward-scale
for row in maddpg qmix; do
  R=runs/mpe-$row-rs
  mkdir -p $R
  for s in 0 3; do
    core=$([ $s = 0 ] && echo 0 || echo 1)
    taskset -c $core .venv/bin/marta train --config results/paper/table2-mpe-$row/marta/config.yaml \
      --seed $s marta.switcher.reward_scale=0.1 --out $R/seed$s --progress log \
      > $R/seed$s.log 2>&1 &
  done
  wait
  # small files only (no checkpoints)
  mkdir -p $W/$row
  for s in 0 3; do
    tar -C $R --exclude='*/checkpoints' --exclude='.jax-cache' --exclude='.reproduce.lock' \
      -cf - seed$s | tar -C $W/$row -xf -
    cp $R/seed$s.log $W/$row/
  done
done
# the gains from the copies: against the uniform baselines (Table 2's comparison), then
# against MARTA with the Switcher's reward unscaled (those runs are in
# results/mpe-switcher-unscaled since the presets adopted k = 0.1, part 3 below)
U=results/mpe-switcher-unscaled
P=results/paper/table2-mpe-maddpg; S=results/mpe-maddpg-seed3
.venv/bin/marta gain --baseline $P/baseline $S/baseline --marta $W/maddpg/seed0 $W/maddpg/seed3 --markdown
.venv/bin/marta gain --baseline $U/maddpg/seed0 $S/marta --marta $W/maddpg/seed0 $W/maddpg/seed3 --markdown
P=results/paper/table2-mpe-qmix; S=results/paper-s3/table2-mpe-qmix
.venv/bin/marta gain --baseline $P/baseline $S/baseline --marta $W/qmix/seed0 $W/qmix/seed3 --markdown
.venv/bin/marta gain --baseline $U/qmix/seed0 $U/qmix/seed3 --marta $W/qmix/seed0 $W/qmix/seed3 --markdown

# --- 2026-11-28, later: the unscaled reward (k = 1) with a ten times larger initial
# temperature (initial_alpha 2.0: the same temperature relative to the values as 0.2 at
# k = 0.1), MADDPG only, seeds 0-2 and 3-5 side by side, one core each, 31 min each
# (maddpg-k1-alpha2/):
mkdir -p runs/mpe-maddpg-alpha
for s in 0 3; do
  core=$([ $s = 0 ] && echo 0 || echo 1)
  taskset -c $core .venv/bin/marta train --config results/paper/table2-mpe-maddpg/marta/config.yaml \
    --seed $s marta.switcher.reward_scale=1 marta.switcher.initial_alpha=2.0 \
    --out runs/mpe-maddpg-alpha/seed$s --progress log > runs/mpe-maddpg-alpha/seed$s.log 2>&1 &
done
wait
for s in 0 3; do
  tar -C runs/mpe-maddpg-alpha --exclude='*/checkpoints' --exclude='.jax-cache' -cf - seed$s |
    tar -C $W/maddpg-k1-alpha2 -xf -
  cp runs/mpe-maddpg-alpha/seed$s.log $W/maddpg-k1-alpha2/
done
A=$W/maddpg-k1-alpha2; P=results/paper/table2-mpe-maddpg; S=results/mpe-maddpg-seed3
.venv/bin/marta gain --baseline $P/baseline $S/baseline --marta $A/seed0 $A/seed3 --markdown
.venv/bin/marta gain --baseline $W/maddpg/seed0 $W/maddpg/seed3 --marta $A/seed0 $A/seed3 --markdown

# --- 2026-11-28, later: the MPE presets adopt k = 0.1 (docs/switcher.md, "Reward scale") ---
# The k = 1 MARTA runs leave the reproduction folders for results/mpe-switcher-unscaled/
# (its README.md), and the runs above take their place at `paper` (configs checked field by
# field against `marta reproduce --budget paper [--seed 3]`; reproduce.json gets their times):
git mv results/paper/table2-mpe-maddpg/marta $U/maddpg/seed0
git mv results/paper/table2-mpe-qmix/marta $U/qmix/seed0
git mv results/paper-s3/table2-mpe-qmix/marta $U/qmix/seed3
cp -r $W/maddpg/seed0 results/paper/table2-mpe-maddpg/marta
cp -r $W/qmix/seed0 results/paper/table2-mpe-qmix/marta
cp -r $W/qmix/seed3 results/paper-s3/table2-mpe-qmix/marta
# At `fast`, the four MPE MARTA runs redone with the configs `marta reproduce --budget fast
# [--seed 3]` now resolves (written with marta.reproduce.runs.plan_runs and save_config),
# two chains side by side, one core each, on an otherwise idle machine:
R=runs/fast-mpe
for t in s0 s3; do
  core=$([ $t = s0 ] && echo 0 || echo 1)
  (for row in maddpg qmix; do
     taskset -c $core .venv/bin/marta train --config $R/table2-mpe-$row-$t.yaml \
       --out $R/$row-$t --progress log > $R/$row-$t.log 2>&1
   done) &
done
wait
for row in maddpg qmix; do
  for t in s0 s3; do
    out=$([ $t = s0 ] && echo results/fast || echo results/fast-s3)
    seed=$([ $t = s0 ] && echo seed0 || echo seed3)
    mkdir -p $U/fast/$row
    git mv $out/table2-mpe-$row/marta $U/fast/$row/$seed
    tar -C $R --exclude='*/checkpoints' -cf - $row-$t | tar -C $out/table2-mpe-$row -xf -
    mv $out/table2-mpe-$row/$row-$t $out/table2-mpe-$row/marta
    cp $R/$row-$t.log $W/fast-$row-$t.log
  done
done
for out in results/paper results/paper-s3 results/fast results/fast-s3; do
  .venv/bin/marta report $out
done
.venv/bin/marta gain --outputs results/paper results/paper-s3 --markdown
.venv/bin/marta gain --outputs results/fast results/fast-s3 --markdown
