"""``python -m marta.envs.train_prey``: trains the pretrained Simple-Tag prey with MADDPG on
``mpe-simple-tag-prey`` and exports it to ``marta/envs/assets/simple_tag_prey.npz``
(`marta.envs.simple_tag_prey`; the command that made the shipped file is in
docs/envs/simple_tag.md)."""

from __future__ import annotations

import argparse
from pathlib import Path

from marta.envs.simple_tag import DEFAULT_PREY_PARAMS
from marta.envs.simple_tag_prey import export_prey_mlp

#: the shipped prey's training config (EPyMARL-style MADDPG on MPE: rewards scaled by 0.1,
#: gamma 0.95, 4 updates per 80 env steps), before the command's own overrides
PREY_TRAINING = (
    "train.eval_interval=10000",
    "train.eval_episodes=100",
    "train.updates_per_rollout=4",
    "train.learning_starts=5000",
    "learner.buffer_size=5000",
    "learner.reward_scale=0.1",
    "learner.gamma=0.95",
)


def main(argv: list[str] | None = None) -> int:
    """Trains the prey with MADDPG and exports it (the command in docs/envs/simple_tag.md)."""
    from marta.experiments.config import build_config
    from marta.experiments.runner import run_experiment

    p = argparse.ArgumentParser(prog="python -m marta.envs.train_prey", description=main.__doc__)
    p.add_argument("--out", required=True, help="run directory of the prey's training")
    p.add_argument("--steps", type=int, default=500_000, help="env steps (default 500k)")
    p.add_argument("--write", default=str(DEFAULT_PREY_PARAMS), help="the .npz to write")
    p.add_argument("--progress", choices=("auto", "bar", "log", "none"), default="auto")
    p.add_argument("overrides", nargs="*", help="config overrides, field=value")
    args = p.parse_args(argv)
    config = build_config(
        {"env_id": "mpe-simple-tag-prey", "learner_name": "maddpg", "num_seeds": 1},
        [*PREY_TRAINING, f"train.total_env_steps={args.steps}", *args.overrides],
    )
    resume = (Path(args.out) / "config.yaml").exists()
    run_experiment(config, args.out, resume=resume, progress=args.progress)
    print(f"wrote {export_prey_mlp(args.out, args.write)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
