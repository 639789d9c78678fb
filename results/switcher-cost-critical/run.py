"""The table of docs/switcher.md, "Known limitation: a cost close to the harm is learned late".

MARTA (IQL team, 3 seeds) on the environment `critical-state`, trained as in
tests/test_marta_critical_state.py, with the Switcher's activation cost c, the number of env
steps and the Switcher's entropy scale varied. Prints, per setting, the probability that the
trained Switcher activates at the critical position along a greedy episode, per seed.

Run from the repository root (about 5 minutes on one core):

    .venv/bin/python results/switcher-cost-critical/run.py > results/switcher-cost-critical/table.md
"""

from __future__ import annotations

import dataclasses
import sys

sys.path.insert(0, "tests")

from test_marta_critical_state import CONFIG, SWITCHER, TRAIN, _train_and_probe  # noqa: E402

#: (activation cost c, env steps, Switcher entropy scale)
SETTINGS = [
    (0.3, 16_000, 0.1),
    (0.6, 16_000, 0.1),
    (1.0, 16_000, 0.1),
    (1.2, 16_000, 0.1),
    (1.2, 16_000, 0.5),
    (1.2, 64_000, 0.1),
    (1.5, 16_000, 0.1),
    (1.5, 40_000, 0.1),
    (1.5, 64_000, 0.1),
]


def main() -> None:
    print("| c | env steps | entropy scale | activation at the critical position, seeds 0-2 |")
    print("|---|---|---|---|")
    for cost, steps, scale in SETTINGS:
        switcher = dataclasses.replace(SWITCHER, activation_cost=cost, target_entropy_scale=scale)
        train = dataclasses.replace(TRAIN, total_env_steps=steps, eval_interval=steps // 2)
        config = dataclasses.replace(CONFIG, switcher=switcher)
        _, positions, probs = _train_and_probe(config, train)
        activate = 1.0 - probs[..., 0]
        per_seed = [activate[s][positions[s] == 2].mean() for s in range(3)]
        cells = ", ".join(f"{x:.3f}" for x in per_seed)
        print(f"| {cost} | {steps} | {scale} | {cells} |", flush=True)


if __name__ == "__main__":
    main()
