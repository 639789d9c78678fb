"""Training throughput of EPyMARL's QMIX on LBF 5x5-4p-1f, the reference of issue 4.

EPyMARL is not on PyPI. Get the commit this was written against:

    git clone https://github.com/uoe-agents/epymarl
    git -C epymarl checkout cbc38c09588064eab978501d0f12c2cf58fa7fc2

and run this script from its own venv (`make bench-epymarl EPYMARL_DIR=epymarl` builds
`.venv-epymarl` with torch (CPU), sacred, setuptools<81 for sacred's pkg_resources, pyyaml,
gymnasium, numpy and lbforaging==2.0.0, and runs this script):

    OMP_NUM_THREADS=1 .venv-epymarl/bin/python benchmarks/epymarl_qmix.py \
        --epymarl-dir epymarl --steps 30000

It runs EPyMARL's own entry point in-process: the sacred experiment `main.ex` (`my_main`
seeds numpy/torch/env, then `run.run` -> `run.run_sequential`), with the config that
`python src/main.py --config=qmix --env-config=gymma` builds (default.yaml, then
envs/gymma.yaml, then algs/qmix.yaml). Only these keys are overridden:
`env_args.key=lbforaging:Foraging-5x5-4p-1f-v3`, `env_args.time_limit=50`, `t_max`, `seed`,
`use_cuda=False`, and `test_interval` above `t_max` with `test_nepisode=1`, so the only test
run is the one EPyMARL always does before training starts. The learner keeps its default
schedule: one update on 32 sampled episodes per episode once the buffer holds 32. Torch runs
one thread, as `main.py` sets.

Three things differ from `python src/main.py`, none of them in the training loop:
no sacred observer is attached, so nothing is written under the checkout (`main.py` adds its
FileStorageObserver only in its `__main__` block); sacred's stdout capture is off and
EPyMARL's prints go to stderr, so stdout is the one JSON line; and `smaclite` (imported by
EPyMARL's env registry, not on PyPI, unused by `gymma`) is stubbed when it is not installed.

Output, one JSON line. `env_steps`, `wall_s`, `env_steps_per_s` count from the first learner
update to the end of training (acting and learning, as in a long run). `total_*` count from the
first training episode, so they also include the buffer warm-up without updates and the test run.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import sys
import time
import types
from dataclasses import dataclass

ENV_KEY = "lbforaging:Foraging-5x5-4p-1f-v3"


@dataclass
class Marks:
    """(perf_counter time, runner t_env) at the points the benchmark is timed between."""

    start: tuple[float, int] | None = None
    first_update: tuple[float, int] | None = None
    end: tuple[float, int] | None = None


def _instrument(marks: Marks) -> None:
    """Swap EPyMARL's episode runner and Q-learner for subclasses that record `marks`."""
    import learners
    import runners

    base_runner = runners.REGISTRY["episode"]
    base_learner = learners.REGISTRY["q_learner"]

    class TimedRunner(base_runner):
        def run(self, test_mode=False):
            if not test_mode and marks.start is None:
                marks.start = (time.perf_counter(), self.t_env)
            return super().run(test_mode=test_mode)

        def close_env(self):
            marks.end = (time.perf_counter(), self.t_env)
            super().close_env()

    class TimedLearner(base_learner):
        def train(self, batch, t_env, episode_num):
            if marks.first_update is None:
                marks.first_update = (time.perf_counter(), t_env)
            return super().train(batch, t_env, episode_num)

    runners.REGISTRY["episode"] = TimedRunner
    learners.REGISTRY["q_learner"] = TimedLearner


def _span(since: tuple[float, int], end: tuple[float, int]) -> tuple[int, float]:
    """(env steps, seconds) between two marks."""
    return end[1] - since[1], end[0] - since[0]


def run_qmix(epymarl_dir: str, steps: int, seed: int) -> dict[str, float]:
    """Train EPyMARL's QMIX for `steps` env steps; return the throughput figures."""
    src = os.path.join(os.path.abspath(epymarl_dir), "src")
    if not os.path.isfile(os.path.join(src, "main.py")):
        raise SystemExit(f"--epymarl-dir: {epymarl_dir!r} has no src/main.py (an EPyMARL checkout)")
    if importlib.util.find_spec("smaclite") is None:
        sys.modules["smaclite"] = types.ModuleType("smaclite")
    sys.path.insert(0, src)
    import main as epymarl_main  # EPyMARL's src/main.py
    import torch
    import yaml
    from sacred import SETTINGS

    torch.set_num_threads(1)
    SETTINGS["CAPTURE_MODE"] = "no"
    with open(os.path.join(src, "config", "default.yaml")) as f:
        config = yaml.load(f, Loader=yaml.FullLoader)
    for flag, folder, name in (("--env-config", "envs", "gymma"), ("--config", "algs", "qmix")):
        config = epymarl_main.recursive_dict_update(
            config, epymarl_main._get_config([f"{flag}={name}"], flag, folder)
        )
    epymarl_main.ex.add_config(config)
    marks = Marks()
    _instrument(marks)
    with contextlib.redirect_stdout(sys.stderr):
        epymarl_main.ex.run(
            config_updates={
                "env_args.key": ENV_KEY,
                "env_args.time_limit": 50,
                "t_max": steps,
                "seed": seed,
                "use_cuda": False,
                "test_interval": steps + 1,
                "test_nepisode": 1,
            }
        )
    if marks.start is None or marks.first_update is None or marks.end is None:
        raise SystemExit(
            f"--steps {steps}: too few for a learner update "
            f"(the buffer needs batch_size={config['batch_size']} episodes)"
        )
    env_steps, wall_s = _span(marks.first_update, marks.end)
    total_steps, total_s = _span(marks.start, marks.end)
    return {
        "env_steps": env_steps,
        "wall_s": round(wall_s, 3),
        "env_steps_per_s": round(env_steps / wall_s, 1),
        "total_env_steps": total_steps,
        "total_wall_s": round(total_s, 3),
        "total_env_steps_per_s": round(total_steps / total_s, 1),
        "warmup_env_steps": marks.first_update[1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epymarl-dir", required=True, help="an EPyMARL checkout (see above)")
    parser.add_argument("--steps", type=int, default=30_000, help="t_max: env steps to train")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.steps <= 0:
        parser.error(f"--steps must be positive, got {args.steps}")
    print(json.dumps(run_qmix(args.epymarl_dir, args.steps, args.seed)))


if __name__ == "__main__":
    main()
