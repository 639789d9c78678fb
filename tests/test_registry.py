import pytest

import marta.envs
from marta.cli import main


def test_unknown_id_lists_valid_ids():
    with pytest.raises(ValueError, match="unknown environment id 'nope'.*valid: .*matrix-climbing"):
        marta.envs.make("nope")


def test_close_id_suggests():
    with pytest.raises(ValueError, match="did you mean 'matrix-climbing'"):
        marta.envs.make("matrix-climbin")


def test_unknown_override_names_field():
    with pytest.raises(ValueError, match="has no field 'max_step'.*did you mean 'max_steps'"):
        marta.envs.make("matrix-climbing", max_step=3)


def test_override_changes_size():
    assert marta.envs.make("matrix-climbing", max_steps=3).max_steps == 3


def test_invalid_override_value_names_field():
    with pytest.raises(ValueError, match="max_steps"):
        marta.envs.make("matrix-climbing", max_steps=0)


def test_duplicate_registration_rejected():
    with pytest.raises(ValueError, match="already registered"):
        marta.envs.register("matrix-climbing", marta.envs.matrix.MatrixGame)


def test_cli_envs_lists_every_id(capsys):
    assert main(["envs"]) == 0
    out = capsys.readouterr().out
    for env_id in marta.envs.ENVS:
        assert env_id in out
    for column in ("num_agents", "num_actions", "obs_dim", "state_dim", "max_steps"):
        assert column in out


def test_cli_help_lists_commands(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for command in ("envs", "bench"):
        assert command in out


def test_cli_output_cut_short_by_its_reader_ends_quietly():
    """`marta envs | head -1`: the reader closes the pipe before marta writes; marta stops
    with the shell's SIGPIPE status and no traceback."""
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "marta.cli", "envs"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.close()  # before the child has imported anything, let alone printed
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr, stderr
