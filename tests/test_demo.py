"""`marta demo`: the side-by-side scorecard table (the runs themselves are `marta reproduce`'s,
tested in tests/test_reproduce.py; `make demo` runs the whole thing)."""

from __future__ import annotations

import json

import pytest

from marta.cli import main
from marta.cli.demo import scorecard_rows


def _scorecard(path, means):
    path.mkdir(parents=True)
    returns = {k: {"per_seed": [m, m], "mean": m, "std": 0.01} for k, m in means.items()}
    (path / "scorecard.json").write_text(json.dumps({"fault_p": 0.2, "returns": returns}))


def test_scorecard_rows_put_baseline_and_marta_side_by_side(tmp_path):
    _scorecard(tmp_path / "p" / "baseline", {"no_fault": 0.9, "uniform": 0.5, "worst_case": -0.4})
    _scorecard(tmp_path / "p" / "marta", {"no_fault": 0.9, "uniform": 0.6, "worst_case": -0.2})
    rows = {r["evaluation faults"]: r for r in scorecard_rows(tmp_path, "p")}
    assert list(rows) == ["no_fault", "uniform", "worst_case"]
    assert rows["uniform"]["baseline"] == "0.500 ± 0.010"
    assert rows["uniform"]["MARTA"] == "0.600 ± 0.010"
    assert rows["no_fault"]["gain %"] == 0.0
    assert rows["uniform"]["gain %"] == pytest.approx(20.0)
    assert rows["worst_case"]["gain %"] == pytest.approx(50.0)  # less negative = better


def test_demo_unknown_preset_is_a_clean_error(tmp_path, capsys):
    assert main(["demo", "--preset", "nope", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "nope" in err and "table2-lbf-qmix" in err
