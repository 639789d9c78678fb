"""`marta bench`: measurement helpers and the BENCHMARKS.md section update."""

import sys

from marta.cli import main
from marta.cli.bench import update_section
from marta.experiments import bench


def test_jax_steps_per_second_is_positive():
    assert bench.jax_steps_per_second("matrix-climbing", num_envs=4, num_steps=20, repeats=1) > 0


def test_update_section_replaces_only_its_block(tmp_path):
    path = tmp_path / "BENCHMARKS.md"
    path.write_text("# Benchmarks\n\nintro\n")
    update_section(path, "envs", "first")
    update_section(path, "other", "kept")
    update_section(path, "envs", "second")
    text = path.read_text()
    assert "intro" in text and "kept" in text and "second" in text
    assert "first" not in text
    assert text.count("<!-- bench:envs -->") == 1


def test_cli_bench_writes_table(tmp_path, capsys):
    out = tmp_path / "B.md"
    assert (
        main(["bench", "envs", "--env", "matrix-climbing", "--batch", "2", "--write", str(out)])
        == 0
    )
    assert "| matrix-climbing | 2 |" in capsys.readouterr().out
    assert "Command: `marta bench envs --env matrix-climbing --batch 2`" in out.read_text()


def test_cli_bench_unknown_env_is_a_clean_error(capsys):
    assert main(["bench", "envs", "--env", "nope"]) == 2
    assert "--env: unknown environment id 'nope'" in capsys.readouterr().err


def test_bench_configs_differ_only_in_the_method_and_its_faults():
    fault = ("marta.train_fault.selection=complex", "marta.train_fault.p=0.2")
    by_key = bench.bench_configs(
        {"env_id": "matrix-climbing", "learner_name": "qmix"}, fault, ("learner.lr=0.001",)
    )
    default_envs = next(iter(by_key.values())).train.num_envs
    assert list(by_key) == [(m, default_envs) for m in ("no faults", "baseline", "marta")]
    configs = {method: config for (method, _), config in by_key.items()}
    assert configs["no faults"].marta is None
    for method, policy in (("baseline", "uniform"), ("marta", "worst_case")):
        m = configs[method].marta
        assert (m.method, m.train_fault.policy) == (method, policy)
        assert (m.train_fault.selection, m.train_fault.p) == ("complex", 0.2)
    assert {c.learner.lr for c in configs.values()} == {0.001}


def test_bench_configs_at_several_num_envs():
    configs = bench.bench_configs(
        {"env_id": "matrix-climbing", "learner_name": "qmix"}, (), ("train.rollout_steps=5",),
        num_envs=(2, 4),
    )  # fmt: skip
    assert list(configs) == [(m, e) for e in (2, 4) for m in ("no faults", "baseline", "marta")]
    assert all(c.train.num_envs == e for (_, e), c in configs.items())


def test_epymarl_reference_rate_is_read_from_its_json_line(tmp_path):
    fake = tmp_path / "fake.py"
    fake.write_text(
        "import sys\nassert sys.argv[1:] == ['--epymarl-dir', 'E', '--steps', '3000']\n"
        "print('noise')\nprint('{\"env_steps_per_s\": 412.5}')\n"
    )
    logs = []
    rate = bench.bench_epymarl_qmix(sys.executable, "E", 3000, logs.append, script=str(fake))
    assert rate == 412.5 and "412" in logs[-1]
    fake.write_text("raise SystemExit('no torch')\n")
    assert bench.bench_epymarl_qmix(sys.executable, "E", 3000, logs.append, str(fake)) is None
    assert "no torch" in logs[-1]


def test_cli_bench_train_epymarl_flags_are_checked(tmp_path, capsys):
    assert main(["bench", "train", "--epymarl-python", sys.executable]) == 2
    assert "go together" in capsys.readouterr().err
    args = ["--epymarl-python", sys.executable, "--epymarl-dir", str(tmp_path)]
    assert main(["bench", "train", *args]) == 2
    assert "has no src/main.py" in capsys.readouterr().err
    assert main(["bench", "envs", "--num-envs", "4"]) == 2


def test_cli_bench_train_times_every_method_and_writes_its_section(tmp_path, capsys):
    out = tmp_path / "B.md"
    tiny = ["num_seeds=1", "train.num_envs=2", "train.rollout_steps=4", "train.eval_interval=8"]
    tiny += ["train.eval_episodes=1", "train.learning_starts=0", "train.total_env_steps=32"]
    code = main(
        ["bench", "train", "--env", "matrix-climbing", "--repeats", "1", "--write", str(out)] + tiny
    )
    assert code == 0
    rows = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("| ")][1:]
    assert [r.split("|")[1].strip() for r in rows] == ["no faults", "baseline", "marta"]
    assert {r.split("|")[2].strip() for r in rows} == {"2"}  # num_envs
    assert rows[1].split("|")[-2].strip() == "1.00x"  # the baseline against itself
    text = out.read_text()
    assert text.count("<!-- bench:train -->") == 1
    assert "marta bench train --env matrix-climbing --repeats 1 " in text
    assert all(row in text for row in rows)  # the table printed is the table written


def test_cli_bench_train_refuses_a_bad_override_before_compiling(capsys):
    assert main(["bench", "train", "learner.lrr=1"]) == 2
    assert "did you mean" in capsys.readouterr().err


def test_an_external_benchmark_is_compared_at_equal_batch(tmp_path):
    fake = tmp_path / "fake.py"
    fake.write_text("print('fake env batch 2: 1,000 steps/s')\n")
    logs = []
    rows = bench.bench_external(
        sys.executable, str(fake), [], (2,), "matrix-climbing", {}, ("climb", "fake"), logs.append
    )
    (row,) = rows
    assert (row["env"], row["batch"], row["reference_steps_per_s"]) == ("climb", 2, 1000)
    assert abs(float(row["ratio"][:-1]) - row["steps_per_s"] / 1000) <= 0.051
    fake.write_text("raise SystemExit('no such library')\n")
    assert (
        bench.bench_external(
            sys.executable,
            str(fake),
            [],
            (2,),
            "matrix-climbing",
            {},
            ("climb", "fake"),
            logs.append,
        )
        == []
    )
    assert "no such library" in logs[-1]
