"""`marta train` through `marta.cli.main`: outputs, layered config, exit codes (0, 1, 2, 130),
resume. The trainer is the fake one of tests/test_runner.py (monkeypatched in), except in the
slow test that trains every registered learner for a few steps."""

from __future__ import annotations

import signal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_runner import (
    OTHER_SOFTWARE,
    Crash,
    crash_at,
    fake_factory,
    metrics_of,
    rewrite_software,
)

import marta.experiments.runner as runner
from marta.cli import main
from marta.experiments.checkpoint import read_checkpoint_info
from marta.experiments.config import load_config
from marta.experiments.io import read_jsonl
from marta.learners import LEARNERS

TINY = ["--num-envs", "1", "--eval-interval", "1", "--eval-episodes", "1", "train.rollout_steps=1"]


@pytest.fixture
def built(monkeypatch):
    """Replaces the real trainer by the fake one; returns the configs it was built for."""
    calls = []
    factory = fake_factory()

    def build(config):
        calls.append(config)
        return factory(config)

    monkeypatch.setattr(runner, "build_trainer", build)
    return calls


def train(*args: str) -> int:
    return main(["train", "--progress", "none", *args])


def test_train_writes_the_run_directory(tmp_path, built, capsys):
    out = tmp_path / "run"
    args = ["--env", "matrix-penalty", "--learner", "vdn", "--steps", "5", "--seeds", "2"]
    code = train(*args, "--seed", "3", "--out", str(out), *TINY, "learner.lr=1e-3")
    assert code == 0
    assert capsys.readouterr().out.startswith(f"wrote {out}")
    c = load_config(out / "config.yaml")
    assert (c.env_id, c.learner_name, c.num_seeds, c.seed, c.learner.lr) == (
        "matrix-penalty",
        "vdn",
        2,
        3,
        1e-3,
    )
    assert (c.train.total_env_steps, c.train.num_envs, c.train.eval_interval) == (5, 1, 1)
    assert c.train.eval_episodes == 1 and c.out_dir == str(out)
    for k in range(2):
        assert [r["segment"] for r in read_jsonl(out / f"seed_{k}" / "metrics.jsonl")] == [
            1,
            2,
            3,
            4,
            5,
        ]
    assert (out / "curves.png").exists() and read_checkpoint_info(out / "checkpoints")
    assert len(built) == 1


def test_config_file_flags_and_overrides_are_layered(tmp_path, built):
    path = tmp_path / "c.yaml"
    path.write_text(
        "env_id: matrix-climbing\nlearner_name: iql\nnum_seeds: 2\nseed: 9\n"
        "learner: {lr: 0.01, gamma: 0.5}\n"
    )
    out = tmp_path / "run"
    code = train("--config", str(path), "--steps", "3", "--seeds", "1", "--out", str(out), *TINY,
                 "learner.gamma=0.7")  # fmt: skip
    assert code == 0
    c = load_config(out / "config.yaml")
    assert (c.learner_name, c.num_seeds, c.seed, c.learner.lr, c.learner.gamma) == (
        "iql",
        1,
        9,
        0.01,
        0.7,
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["--learner", "qmx"], "unknown learner 'qmx' (did you mean 'qmix'?)"),
        (["--env", "matrix-climbng"], "unknown environment id 'matrix-climbng'"),
        (["learner.lrr=1"], "did you mean 'learner.lr'?"),
        (["--steps", "abc"], "train.total_env_steps must be an integer, got 'abc'"),
        (["--steps", "7", "train.total_env_steps=8"], "train.total_env_steps is given more"),
        (["--seeds", "0"], "num_seeds must be an integer >= 1"),
        (["--config", "/nonexistent/c.yaml"], "cannot read config file"),
        (["learner.lr"], "expected field=value"),
    ],
)
def test_bad_input_is_one_line_on_stderr_and_exit_2(tmp_path, built, capsys, args, message):
    base = ["--env", "matrix-climbing", "--learner", "qmix", "--steps", "4"]
    # later flags win in argparse, so the case's own --env/--learner/--steps replace the base
    code = train(*base, "--out", str(tmp_path / "o"), *TINY, *args)
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("marta train: error: ") and err.count("\n") == 1
    assert message in err
    assert built == []  # nothing was built, let alone compiled
    assert not (tmp_path / "o" / "config.yaml").exists()


def test_usage_errors_exit_2(tmp_path, built, capsys):
    assert train("--env", "matrix-climbing", "--learner", "iql", "--steps", "2", *TINY) == 2
    assert "missing --out DIR" in capsys.readouterr().err
    assert train("--resume", str(tmp_path), "--steps", "3") == 2
    assert "--resume continues a run with its saved config.yaml; drop --steps" in (
        capsys.readouterr().err
    )
    assert train("--resume") == 2
    assert "--resume needs the run directory" in capsys.readouterr().err
    assert train("--resume", str(tmp_path / "nothing")) == 2
    assert "nothing to resume" in capsys.readouterr().err
    for bad in (["--progress", "loud"], ["--stepz", "3"]):
        with pytest.raises(SystemExit) as exit_info:
            train(*bad)
        assert exit_info.value.code == 2
    assert built == []


def test_existing_run_needs_resume_or_force(tmp_path, built, capsys):
    args = ["--env", "matrix-climbing", "--learner", "iql", "--steps", "3", "--out",
            str(tmp_path / "r"), *TINY]  # fmt: skip
    assert train(*args) == 0
    assert train(*args) == 2
    assert "already holds a run of this config; use --resume" in capsys.readouterr().err
    assert train(*args, "--seed", "1") == 2
    assert "differs in seed" in capsys.readouterr().err
    assert train(*args, "--seed", "1", "--force") == 0


def test_non_finite_metric_exits_1(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(runner, "build_trainer", fake_factory(nan_segment=2))
    code = train("--env", "matrix-climbing", "--learner", "iql", "--steps", "4", "--out",
                 str(tmp_path / "n"), *TINY)  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1
    assert "marta train: error: metric loss = nan (seed 0) is not finite in segment 2/4" in err


def test_ctrl_c_exits_130_and_resume_finishes_the_run(tmp_path, built, monkeypatch, capsys):
    args = ["--env", "matrix-climbing", "--learner", "iql", "--steps", "5", "--seeds", "2", *TINY]
    assert train(*args, "--out", str(tmp_path / "ref")) == 0
    appended = []
    real_append = runner.append_jsonl

    def append_then_interrupt(path, records):
        real_append(path, records)
        appended.append(path)
        if len(appended) == 4:  # segment 2 of 2 seeds written: Ctrl-C
            signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(runner, "append_jsonl", append_then_interrupt)
    out = tmp_path / "int"
    assert train(*args, "--out", str(out)) == 130
    err = capsys.readouterr().err
    assert "interrupted after segment 2/5; checkpoint saved" in err
    assert f"marta train --resume {out}" in err
    monkeypatch.setattr(runner, "append_jsonl", real_append)
    assert train("--resume", str(out)) == 0
    assert metrics_of(out, 2) == metrics_of(tmp_path / "ref", 2)


def crashed_run(tmp_path) -> None:
    """`tmp_path/ref`: a finished 6-segment run; `tmp_path/x`: the same run crashed after
    segment 4, to be resumed."""
    args = ["--env", "matrix-climbing", "--learner", "iql", "--steps", "6", *TINY]
    assert train(*args, "--out", str(tmp_path / "ref")) == 0
    config = load_config(tmp_path / "ref" / "config.yaml")
    with pytest.raises(Crash):
        runner.run_experiment(
            config, tmp_path / "x", progress="none", on_segment=crash_at(4),
            make_trainer=runner.build_trainer,
        )  # fmt: skip


def test_resume_after_a_crash_via_the_cli(tmp_path, built):
    crashed_run(tmp_path)
    assert train("--out", str(tmp_path / "x"), "--resume") == 0
    assert metrics_of(tmp_path / "x", 1) == metrics_of(tmp_path / "ref", 1)


def test_resuming_another_versions_checkpoint_warns_in_one_line(tmp_path, built, capsys):
    crashed_run(tmp_path)
    rewrite_software(tmp_path / "x" / "checkpoints")
    capsys.readouterr()
    assert train("--out", str(tmp_path / "x"), "--resume") == 0
    err = capsys.readouterr().err
    assert err.startswith("marta train: warning: resuming ")
    assert f"written by {OTHER_SOFTWARE}, with marta " in err
    assert "Warning" not in err  # one line, not Python's file:line: category: format


@pytest.mark.slow
@pytest.mark.parametrize("learner", sorted(LEARNERS))
def test_every_learner_trains_through_the_cli(tmp_path, learner):
    out = tmp_path / learner
    code = train("--env", "matrix-climbing", "--learner", learner, "--steps", "64", "--seeds",
                 "2", "--num-envs", "2", "--eval-interval", "16", "--eval-episodes", "4", "--out",
                 str(out), "train.rollout_steps=2", "train.learning_starts=0",
                 "learner.batch_size=4", "learner.buffer_size=16")  # fmt: skip
    assert code == 0
    records = read_jsonl(out / "seed_1" / "metrics.jsonl")
    assert [r["env_steps"] for r in records] == [16, 32, 48, 64]
    assert records[-1]["updates"] > 0


TOKENS = [
    "--env", "--learner", "--steps", "--seeds", "--seed", "--num-envs", "--eval-interval",
    "--eval-episodes", "--method", "--fault-p", "--fault-agent", "--fault-selection",
    "--fault-policy", "--fault-temperature", "--budget", "--cost", "--terminate-p", "--resume",
    "--force",
    "matrix-climbing", "lbf-5x5-4p-1f", "nope", "qmix", "vdn", "maddpg", "iqll", "marta",
    "baseline", "worst_case", "learned", "2", "8", "0", "-1", "1.5", "abc", "",
    "learner.lr=0.001", "learner.lr=x", "learner.batch_size=0", "train.num_envs=0",
    "marta.train_fault.p=2", "marta.switcher.activation_cost=-1", "nosuch.field=1",
    "train.eval_interval=3", "=", "a=b=c",
]  # fmt: skip


@settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.sampled_from(TOKENS), max_size=8))
def test_random_command_lines_end_cleanly(tmp_path, built, capsys, tokens):
    """Random `marta train` argument lists: exit 0 (a valid run of the fake trainer) or 2
    with an error on stderr, never a traceback or another exception."""
    out = tmp_path / "run"
    try:
        code = train("--out", str(out), "--force", *TINY, *tokens)
    except SystemExit as exit_info:  # argparse: usage line + error line
        code = exit_info.code
    err = capsys.readouterr().err
    assert code in (0, 2), (tokens, code, err)
    assert "Traceback" not in err
    if code == 2:
        assert err.strip().splitlines()[-1].startswith(("marta train: error:", "marta: error:")), (
            err
        )
