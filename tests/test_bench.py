"""`marta bench`: measurement helpers and the BENCHMARKS.md section update."""

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
    assert "unknown id 'nope'" in capsys.readouterr().err
