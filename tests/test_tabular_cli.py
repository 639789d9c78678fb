"""`marta solve` smoke tests, in-process through `marta.cli.main`."""

from __future__ import annotations

from marta.cli import main


def _rows(out: str) -> list[list[str]]:
    lines = out.splitlines()
    return [line.split() for line in lines[3:] if line and not line.startswith("switcher")]


def test_solve_critical_state_table(capsys):
    assert main(["solve", "--game", "critical-state", "--cost", "0.5"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("game critical-state: S=6 agents=2")
    rows = _rows(out)
    assert len(rows) == 6
    activated = [r[0] for r in rows if r[6] == "agent"]
    assert activated == ["critical"]
    assert "switcher activates in 1/6 states" in out


def test_solve_random_game_with_budget(capsys):
    argv = ["solve", "--game", "random", "--cost", "0", "--budget", "2", "--seed", "3"]
    argv += ["--states", "4", "--actions", "3", "--agents", "2", "--gamma", "0.8"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "game random: S=4 agents=2 actions=(3, 3) gamma=0.8 cost=0 budget=2 terminate_p=1" in out
    rows = _rows(out)
    assert len(rows) == 3 * 4 and [r[0] for r in rows[::4]] == ["2", "1", "0"]
    assert all(r[7] == "-" for r in rows if r[0] == "0")  # no activation without budget
    assert "budget 0: 0/4" in out


def test_solve_bad_input_exits_2_with_named_argument(capsys):
    assert main(["solve", "--game", "corridor", "--cost", "-1"]) == 2
    assert "cost:" in capsys.readouterr().err
    assert main(["solve", "--game", "corridor", "--cost", "1", "--budget", "-3"]) == 2
    assert "budget:" in capsys.readouterr().err
    assert main(["solve", "--game", "nope", "--cost", "1"]) == 2
    assert "registered games" in capsys.readouterr().err
