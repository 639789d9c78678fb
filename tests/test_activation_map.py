"""The Switcher's activation map (paper, Fig. 4): per-cell counts, env grid views, run output.

`count_cells` is checked against a Python loop; Traffic Junction's and LBF's `agent_cells`
on hand-built states; and one tiny MARTA run on a 6 x 6 Traffic Junction with 5 cars (one
waiting off the grid at the start, cars leave the grid when they arrive) checks that the
map written next to scorecard.json adds up to the activations the segment metrics count,
and that no wall cell is ever counted; the same run crashed after its first checkpoint and
resumed writes the same map and metrics (the map, the Switcher's and the adversary's state
are all in the checkpoint).
"""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import marta.envs
from marta.cli import main
from marta.core.marta import count_cells, grid_shape_of
from marta.experiments.config import build_config, load_config
from marta.experiments.io import read_jsonl
from marta.experiments.runner import run_experiment

GRID = (6, 6)


def test_count_cells_equals_a_python_loop():
    rng = np.random.default_rng(0)
    cells = rng.integers(-2, 8, size=(5, 7, 2))  # some rows/cols outside a 6 x 6 grid
    weights = rng.integers(0, 3, size=(5, 7))
    expected = np.zeros(GRID, np.int64)
    for (r, c), w in zip(cells.reshape(-1, 2), weights.reshape(-1), strict=True):
        if 0 <= r < GRID[0] and 0 <= c < GRID[1]:
            expected[r, c] += w
    got = jax.jit(count_cells, static_argnums=2)(jnp.asarray(cells), jnp.asarray(weights), GRID)
    np.testing.assert_array_equal(got, expected)
    assert expected.sum() < weights.sum()  # the outside entries existed and were dropped


def test_traffic_junction_cars_off_the_grid_have_no_cell():
    env = marta.envs.make("tj-4", num_agents=6, grid_shape=GRID)
    assert grid_shape_of(env) == GRID
    _, state = env.reset(jax.random.key(0))
    cells = np.asarray(env.agent_cells(state))
    car = state.env
    np.testing.assert_array_equal(cells[4:], -1)  # cars 4, 5 wait at the wall cell (0, 0)
    np.testing.assert_array_equal(cells[:4], np.asarray(car.pos[:4]))
    arrived = state.replace(env=car.replace(done=car.done.at[1].set(True)))
    np.testing.assert_array_equal(np.asarray(env.agent_cells(arrived))[1], [-1, -1])


def test_lbf_players_are_always_on_the_grid():
    env = marta.envs.make("lbf-5x5-2p-1f")
    assert grid_shape_of(env) == (5, 5)
    _, state = env.reset(jax.random.key(1))
    np.testing.assert_array_equal(env.agent_cells(state), state.env.player_pos)
    assert grid_shape_of(marta.envs.make("critical-state")) is None


@pytest.fixture(scope="module")
def tj_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("map") / "tj"
    config = build_config(
        {"env_id": "tj-4", "learner_name": "iql"},
        [
            "env.grid_shape=[6, 6]",
            "env.num_agents=5",
            "env.max_steps=12",
            "train.total_env_steps=192",
            "train.num_envs=4",
            "train.rollout_steps=4",
            "train.eval_interval=96",
            "train.eval_episodes=2",
            "train.learning_starts=48",
            "learner.batch_size=4",
            "learner.buffer_size=16",
            "learner.hidden_dim=8",
            "num_seeds=2",
            "marta.method=marta",
            "marta.train_fault.policy=worst_case",
            "marta.switcher.hidden_sizes=[8]",
            "marta.switcher.batch_size=8",
            "marta.switcher.buffer_capacity=64",
        ],
    )
    run_experiment(config, out, progress="none")
    return out, marta.envs.make("tj-4", num_agents=5, grid_shape=GRID)


def test_activation_map_adds_up_to_the_counted_activations(tj_run):
    out, env = tj_run
    data = json.loads((out / "activation_map.json").read_text())
    assert data["shape"] == list(GRID)
    counts, visits = np.asarray(data["counts"]), np.asarray(data["visits"])
    assert counts.shape == visits.shape == GRID
    # the segment metrics' activations (activation_rate * eval_interval), all seeds
    records = [read_jsonl(out / f"seed_{k}" / "metrics.jsonl") for k in range(2)]
    per_seed = [round(sum(r["activation_rate"] * 96 for r in seed)) for seed in records]
    assert sum(per_seed) > 0
    assert counts.sum() + data["off_grid"] == sum(per_seed)
    assert data["per_seed_activations"][0] + data["per_seed_activations"][1] == counts.sum()
    # nothing is counted on a wall: only road cells (rows/cols h-1, h) ever hold a car
    h = GRID[0] // 2
    road = np.zeros(GRID, bool)
    road[[h - 1, h], :] = True
    road[:, [h - 1, h]] = True
    assert visits[road].sum() > 0 and counts[road].sum() > 0
    np.testing.assert_array_equal(visits[~road], 0)
    np.testing.assert_array_equal(counts[~road], 0)
    assert (counts <= visits).all()
    # at most every car of every env step is a visit; waiting and arrived cars are not
    assert visits.sum() < env.num_agents * 192 * 2


def test_a_crashed_and_resumed_marta_run_equals_the_uninterrupted_one(tj_run, tmp_path):
    out, _ = tj_run
    config = load_config(out / "config.yaml")

    def crash_in_segment_2(done, records):
        if done == 2:  # after segment 1's checkpoint, before segment 2's
            raise RuntimeError("crash")

    with pytest.raises(RuntimeError, match="crash"):
        run_experiment(config, tmp_path / "x", progress="none", on_segment=crash_in_segment_2)
    assert not (tmp_path / "x" / "activation_map.json").exists()
    run_experiment(None, tmp_path / "x", resume=True, progress="none")
    resumed = json.loads((tmp_path / "x" / "activation_map.json").read_text())
    assert resumed == json.loads((out / "activation_map.json").read_text())
    for k in range(2):
        strip = lambda records: [{**r, "wall_time_s": 0} for r in records]
        a = strip(read_jsonl(out / f"seed_{k}" / "metrics.jsonl"))
        assert strip(read_jsonl(tmp_path / "x" / f"seed_{k}" / "metrics.jsonl")) == a


def test_eval_scores_a_marta_run(tj_run, capsys):
    out, _ = tj_run
    code = main(["eval", "--run", str(out), "--episodes", "2", "--fault-p", "0.3"])
    assert code == 0, capsys.readouterr().err
    data = json.loads((out / "eval" / "uniform_p0.3.json").read_text())
    assert len(data["return"]["per_seed"]) == 2 and data["fault"]["p"] == 0.3
    assert len(data["collisions_per_episode"]["per_seed"]) == 2  # Traffic Junction's counter
    record = read_jsonl(out / "seed_0" / "metrics.jsonl")[-1]
    assert record["eval_collisions_mean"] >= 0
