"""`marta eval`: scoring a saved run under faults, and the red team against a frozen team.

One tiny plain run on `critical-state` (2 seeds; positions 0..3 in a loop, only agent 0's
action at position 2 matters, 8-step episodes) is trained once per module; every test reads
that run directory as a user would. The environment is deterministic, so the greedy team's
no-fault return is the same in every episode, which lets the CLI's evaluation be checked
against the run's own in-training evaluation.
"""

from __future__ import annotations

import json

import jax
import numpy as np
import pytest

import marta.cli.eval as eval_cli
from marta.cli import build_parser, main
from marta.cli.eval import fault_from_flags, fault_name, load_run, train_red_team
from marta.cli.train import FAULT_CONFIG_FLAGS, FAULT_FLAGS
from marta.core import seed_keys
from marta.core.marta import MartaConfig
from marta.experiments.config import load_config
from marta.experiments.io import read_jsonl
from marta.experiments.runner import RunPaths
from marta.faults import FaultConfig

TINY = [
    "--env", "critical-state", "--learner", "iql", "--steps", "1024", "--num-envs", "4",
    "--eval-interval", "512", "--eval-episodes", "4", "train.rollout_steps=4",
    "train.learning_starts=64", "learner.batch_size=8", "learner.buffer_size=64",
    "learner.hidden_dim=16", "learner.lr=3e-3", "learner.epsilon_anneal_steps=512",
]  # fmt: skip
MAX_RETURN = 8.0  # 8 steps of reward 1


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("eval") / "plain"
    code = main(["train", "--progress", "none", *TINY, "--seeds", "2", "--out", str(out)])
    assert code == 0
    return out


def eval_args(*argv: str):
    return build_parser().parse_args(["eval", "--run", "x", *argv])


# ----------------------------------------------------------------------------- inputs
def test_eval_takes_the_fault_flags_of_train():
    train = build_parser().parse_args(["train", "--fault-p", "0.3"])
    for dest in FAULT_CONFIG_FLAGS:
        assert hasattr(train, dest) and hasattr(eval_args(), dest), dest
    args = eval_args("--fault-p", "0.3", "--fault-selection", "simple", "--fault-agent", "1",
                     "--budget", "2")  # fmt: skip
    fault = fault_from_flags(args, FaultConfig())
    assert fault == FaultConfig(p=0.3, selection="simple", agent=1, budget=2)
    assert FAULT_FLAGS["fault_p"].flag == "--fault-p"


def test_fault_names():
    assert fault_name(None) == "no_fault"
    assert fault_name(FaultConfig(policy="worst_case", p=0.2)) == "worst_case_p0.2"
    name = fault_name(FaultConfig(p=0.25, selection="simple", agent=1, weights=(1.0, 3.0)))
    assert name == "uniform_p0.25_selection-simple_agent-1_weights-1-3"


def test_a_frozen_team_needs_a_switcher():
    with pytest.raises(ValueError, match="freeze_team needs method 'marta'"):
        MartaConfig(method="baseline", freeze_team=True)


# ----------------------------------------------------------------------------- evaluation
def test_no_fault_evaluation_matches_the_runs_own_evaluation(run_dir, capsys):
    code = main(["eval", "--run", str(run_dir), "--episodes", "3"])
    out = capsys.readouterr().out
    assert code == 0
    data = json.loads((run_dir / "eval" / "no_fault.json").read_text())
    assert data["fault"] is None and data["episodes_per_seed"] == 3
    assert data["env_steps"] == 1024 and data["segments_done"] == 2
    last = [read_jsonl(run_dir / f"seed_{k}" / "metrics.jsonl")[-1] for k in range(2)]
    # a deterministic env: the loaded checkpoint scores what training's last evaluation did
    assert data["return"]["per_seed"] == [r["eval_return_mean"] for r in last]
    np.testing.assert_array_equal(data["activations_per_episode"]["per_seed"], [0.0, 0.0])
    assert "seed 1" in out and "mean ± sd" in out and "no_fault.json" in out


def test_evaluation_under_faults_every_step(run_dir, capsys):
    code = main(["eval", "--run", str(run_dir), "--episodes", "2", "--fault-p", "1",
                 "--fault-policy", "worst_case", "--fault-selection", "simple",
                 "--fault-temperature", "0.05", "--name", "always"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    data = json.loads((run_dir / "eval" / "always.json").read_text())
    assert data["fault"]["p"] == 1.0 and data["fault"]["policy"] == "worst_case"
    assert data["fault"]["temperature"] == 0.05
    # one-step faults with onset probability 1: one activation at every step
    np.testing.assert_array_equal(data["activations_per_episode"]["per_seed"], [8.0, 8.0])
    assert data["return"]["mean"] <= MAX_RETURN


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["--fault-p", "2"], "p must be a probability"),
        (["--fault-policy", "worst_case", "--fault-temperature", "0"], "temperature must be"),
        (["--fault-agent", "5", "--fault-selection", "simple"], "agent must be in 0..1"),
        (["--fault-policy", "learned"], "needs a run trained with an adversary"),
        (["--cost", "0.1"], "--cost needs --red-team"),
        (["--red-team", "64", "--fault-p", "0.1"], "--fault-p is not used with --red-team"),
        (["--red-team", "100"], "multiple of the run's num_envs * rollout_steps = 16"),
        (["--red-team", "64", "--adversary", "iql"], "--adversary needs --fault-policy learned"),
        (["--red-team", "64", "--cost", "-1"], "activation_cost"),
        (["--name", "a/b"], "--name must be"),
    ],
)
def test_bad_input_exits_2_with_one_line(run_dir, capsys, argv, match):
    before = sorted((run_dir / "eval").glob("*")) if (run_dir / "eval").exists() else []
    assert main(["eval", "--run", str(run_dir), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert match in err and len(err.splitlines()) == 1, err
    after = sorted((run_dir / "eval").glob("*")) if (run_dir / "eval").exists() else []
    assert after == before


def test_evaluate_under_refuses_what_the_run_cannot_do(run_dir):
    paths = RunPaths(run_dir)
    trainer, state, _ = load_run(paths, load_config(paths.config))
    keys = seed_keys(0, 2)

    def trace(fault, switched):
        fn = jax.vmap(lambda k, s: trainer.evaluate_under(k, s, fault, 2, switched=switched))
        return jax.eval_shape(fn, keys, state)

    assert trace(None, False).returns.shape == (2, 2)
    with pytest.raises(ValueError, match="needs a run with a Switcher"):
        trace(None, True)
    with pytest.raises(ValueError, match="needs a run with an adversary"):
        trace(FaultConfig(policy="learned"), False)


def test_a_directory_without_a_run_is_refused(tmp_path, capsys):
    assert main(["eval", "--run", str(tmp_path)]) == 2
    assert "holds no run" in capsys.readouterr().err


# ----------------------------------------------------------------------------- red team
def test_red_team_leaves_the_team_untouched_and_cannot_beat_no_faults(run_dir, capsys, monkeypatch):
    seen = {}

    def spy(trainer, team, keys, report=None):  # the CLI's own training, observed
        seen["before"] = jax.device_get(team)
        state, curve = train_red_team(trainer, team, keys, report)
        seen["state"] = jax.device_get(state)
        return state, curve

    monkeypatch.setattr(eval_cli, "train_red_team", spy)
    code = main(["eval", "--run", str(run_dir), "--red-team", "1024", "--episodes", "4",
                 "--budget", "4", "--cost", "0.05"])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err

    # the team's update is skipped: every leaf of its learner state is bit-identical
    state = seen["state"]
    leaves = zip(jax.tree.leaves(seen["before"]), jax.tree.leaves(state.learner), strict=True)
    for before, after in leaves:
        np.testing.assert_array_equal(before, after)
    np.testing.assert_array_equal(state.updates, 0)
    np.testing.assert_array_equal(state.buffer.size, 0)  # and it stores nothing
    assert (state.switcher.buffer.size > 0).all()  # while the Switcher learns

    data = json.loads((run_dir / "eval" / "red_team.json").read_text())
    rows = data["returns"]
    assert set(rows) == {"red_team", "no_fault", "uniform_same_rate",
                         "worst_case_random_onset_same_rate"}  # fmt: skip
    assert data["switcher"]["use_budget"] is True and data["switcher"]["activation_cost"] == 0.05
    assert data["fault"]["budget"] == 4 and 0.0 < data["same_rate_p"] <= 1.0
    acts = data["activations_per_episode"]["red_team"]["per_seed"]
    assert max(acts) <= 4 and min(acts) > 0  # the greedy Switcher faults, within the budget
    for forced, clean in zip(rows["red_team"]["per_seed"], rows["no_fault"]["per_seed"],
                             strict=True):  # fmt: skip
        assert forced <= clean
    # ... and after 1024 steps it has found where a fault hurts (agent 0 at position 2)
    assert rows["red_team"]["mean"] < rows["no_fault"]["mean"]
    assert list(rows)[0] == "red_team"
    assert [s["env_steps"] for s in data["segments"]] == [512, 1024]
    assert "red team: env_steps 1024/1024" in captured.err
