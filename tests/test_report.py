"""`marta report`: report.md and figures from synthetic reproduce directories.

Each test writes run directories by hand in the layout of `marta reproduce` (preset.yaml,
config.yaml, seed_<k>/metrics.jsonl, a real checkpoint, scorecard.json) with known curves, and
checks the report's numbers against hand computations. No training happens.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml

from marta.cli import main
from marta.experiments.checkpoint import save_checkpoint
from marta.experiments.io import append_jsonl
from marta.reproduce.pooled import (
    PooledConfigWarning,
    UnfinishedRowWarning,
    pooled_comparison,
    pooled_table2,
)
from marta.reproduce.report import render_report, write_report
from marta.reproduce.results import load_reproduction, load_run
from marta.reproduce.runs import schedule_time

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
EVAL_INTERVAL = 1_000
SEGMENTS = 10


# ------------------------------------------------------------------------------ builders
def write_run(
    run_dir: Path,
    curves: np.ndarray,
    *,
    segments: int = SEGMENTS,
    extra: dict[str, np.ndarray] | None = None,
    scorecard: bool = True,
    activation_map: dict | None = None,
    seed: int = 0,
) -> None:
    """A run directory whose seed k logged ``curves[k]`` as eval_return_mean.

    Args:
        curves: f[num_seeds, T] evaluation returns; T < `segments` leaves the run unfinished.
        extra: more metrics, name -> f[num_seeds, T].
    """
    num_seeds, length = curves.shape
    config = {
        "env_id": "lbf-5x5-4p-1f",
        "learner_name": "qmix",
        "num_seeds": num_seeds,
        "seed": seed,
        "train": {  # a valid config: eval_interval is a multiple of 8 envs x 5 steps
            "total_env_steps": segments * EVAL_INTERVAL,
            "eval_interval": EVAL_INTERVAL,
            "num_envs": 8,
        },
        "marta": {"method": "marta"},
    }
    run_dir.mkdir(parents=True)
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config))
    for k in range(num_seeds):
        (run_dir / f"seed_{k}").mkdir()
        records = [
            {
                "segment": t + 1,
                "env_steps": (t + 1) * EVAL_INTERVAL,
                "eval_return_mean": float(curves[k, t]),
                "wall_time_s": 2.0,
                **{name: float(v[k, t]) for name, v in (extra or {}).items()},
            }
            for t in range(length)
        ]
        append_jsonl(run_dir / f"seed_{k}" / "metrics.jsonl", records)
    save_checkpoint(
        run_dir / "checkpoints",
        {"counter": np.zeros(num_seeds)},
        segments_done=length,
        config=config,
        env_steps=length * EVAL_INTERVAL,
    )
    if scorecard and length == segments:
        final = curves[:, -1]
        row = {"per_seed": final.tolist(), "mean": final.mean(), "std": final.std()}
        worst = {"per_seed": (final - 0.1).tolist(), "mean": final.mean() - 0.1, "std": 0.0}
        returns = {"no_fault": row, "worst_case": worst}
        (run_dir / "scorecard.json").write_text(
            json.dumps({"method": "marta", "fault_p": 0.2, "returns": returns})
        )
    if activation_map is not None:
        (run_dir / "activation_map.json").write_text(json.dumps(activation_map))


def write_preset(out: Path, name: str, experiment: str, runs: list[dict], **extra) -> Path:
    preset_dir = out / name
    preset_dir.mkdir(parents=True)
    preset = {"name": name, "experiment": experiment, "description": name, "runs": runs, **extra}
    (preset_dir / "preset.yaml").write_text(yaml.safe_dump(preset))
    return preset_dir


def seeds(curve: np.ndarray, num_seeds: int = 3, offset: float = 0.01) -> np.ndarray:
    """Seed k's curve is `curve` + k * offset."""
    return np.stack([curve + k * offset for k in range(num_seeds)])


STEPS = EVAL_INTERVAL * np.arange(1, SEGMENTS + 1, dtype=float)
BASELINE = seeds(np.full(SEGMENTS, 0.5))  # constant 0.50, 0.51, 0.52
MARTA = seeds(0.1 + STEPS / 10_000)  # linear 0.2 .. 1.1, plus 0.01 k


def sweep_runs(tag: str, values: list, methods=("baseline", "marta")) -> list[dict]:
    return [
        {"name": f"{m}-{tag}-{v}", "tags": {"method": m, tag: v}} for m in methods for v in values
    ]


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("reproduce")
    (out / "reproduce.json").write_text(
        json.dumps(
            {
                "budget": "smoke",
                "presets": ["table2-lbf-qmix", "table2-tj-vdn"],
                "marta_version": "0.1.0",
                "wall_time_s": 3723.0,
                "sittings": [
                    {"started": "2026-11-27T08:00:00+00:00", "workers": 2, "wall_time_s": 3000.0},
                    {
                        "started": "2026-11-27T10:00:00+00:00",
                        "workers": 1,
                        "software": "marta 0.1.0 (jax 0.10.2, jaxlib 0.10.2)",
                        "wall_time_s": 723.0,
                    },
                ],
                "runs": {"table2-tj-vdn/marta": {"status": "pending"}},
            }
        )
    )
    two_runs = [
        {"name": "baseline", "tags": {"method": "baseline"}},
        {"name": "marta", "tags": {"method": "marta"}},
    ]
    lbf = write_preset(
        out, "table2-lbf-qmix", "table2", two_runs, paper_row={"env": "lbf_5x5_1f", "base": "qmix"}
    )
    write_run(lbf / "baseline", BASELINE)
    write_run(lbf / "marta", MARTA)
    # a preset still running: baseline half done, MARTA not started
    tj = write_preset(
        out,
        "table2-tj-vdn",
        "table2",
        two_runs,
        paper_row={"env": "traffic_junction", "base": "vdn"},
    )
    write_run(tj / "baseline", seeds(np.linspace(-90, -40, 4)))

    activations = {"activations_per_episode": seeds(np.full(SEGMENTS, 3.0))}
    sweeps = {
        "cost_sweep": ("cost", [0.0, 0.5]),
        "p_sweep": ("p", [0.1, 0.4]),
        "team_size": ("n_agents", [2, 4]),
        "budget_sweep": ("budget", [1, 3]),
    }
    for experiment, (tag, values) in sweeps.items():
        runs = sweep_runs(tag, values)
        preset = write_preset(out, f"{experiment}-x", experiment, runs)
        for i, run in enumerate(runs):
            write_run(preset / run["name"], BASELINE + i, extra=activations)
    case_runs = [{"name": f"case{c}", "tags": {"method": "marta", "case": c}} for c in (1, 2)]
    preset = write_preset(out, "case-tj", "case", case_runs)
    for run in case_runs:
        write_run(preset / run["name"], MARTA)
    heat_runs = [{"name": "marta", "tags": {"method": "marta"}}]
    preset = write_preset(out, "heatmap-tj", "heatmap", heat_runs)
    grid = np.zeros((6, 6))
    grid[2:4, :] = grid[:, 2:4] = 10  # a junction: two crossing roads
    write_run(
        preset / "marta",
        MARTA,
        activation_map={"shape": [6, 6], "counts": (grid * 0.3).tolist(), "visits": grid.tolist()},
    )
    write_report(out)
    return out


def table(text: str, title: str) -> list[dict[str, str]]:
    """The rows of the Markdown table under heading `title`, as dicts of cell text."""
    lines = text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0].splitlines()
    rows = [line for line in lines if line.startswith("|")]
    cells = [[c.strip() for c in row.strip("|").split(" | ")] for row in rows]
    return [dict(zip(cells[0], r, strict=True)) for r in cells[2:]]


def pm(cell: str) -> tuple[float, float]:
    mean, std = cell.split(" ± ")
    return float(mean), float(std)


def duration_s(cell: str) -> int:
    """Seconds of a duration as the report writes it ("1h 02m 03s", "0m 20s")."""
    parts = dict((unit, int(n)) for n, unit in re.findall(r"(\d+)([hms])", cell))
    return parts.get("h", 0) * 3600 + parts.get("m", 0) * 60 + parts.get("s", 0)


def row(rows: list[dict], preset: str, method: str) -> dict[str, str]:
    (found,) = [r for r in rows if f"`{preset}`" in r["env (preset)"] and r["method"] == method]
    return found


# ------------------------------------------------------------------------------ tests
def test_table2_final_return_matches_hand_computation_and_the_paper(out):
    text = (out / "report.md").read_text()
    rows = table(text, "Table 2: final return")
    base, marta = row(rows, "table2-lbf-qmix", "QMIX"), row(rows, "table2-lbf-qmix", "MARTA-QMIX")
    # baseline: constant curves 0.50, 0.51, 0.52 -> final 0.51 ± std of those
    assert pm(base["ours (μ ± σ)"]) == pytest.approx((0.51, np.std([0.5, 0.51, 0.52])), rel=1e-3)
    # MARTA: y = 0.1 + x/1e4 at x = 1e3..1e4; last five evaluations x = 6e3..1e4 -> mean 0.9
    assert pm(marta["ours (μ ± σ)"])[0] == pytest.approx(0.91, rel=1e-3)
    # the paper's Table 2 row for lbf_5x5_1f / qmix, and the difference to it
    assert base["paper (μ ± σ)"] == "0.65 ± 0.279"
    assert marta["paper (μ ± σ)"] == "0.94 ± 0.043"
    assert float(base["ours − paper"]) == pytest.approx(0.51 - 0.65, rel=1e-3)
    assert float(marta["gain % ours"]) == pytest.approx((0.91 - 0.51) / 0.51 * 100, abs=0.05)
    assert float(marta["gain % paper"]) == pytest.approx(44.6)
    assert base["gain % ours"] == "—"
    low, high = (float(v) for v in marta["ours 95% CI"].strip("[]").split(", "))
    assert 0.90 <= low < 0.91 < high <= 0.92  # within the seeds' range, around the mean
    assert base["seeds"] == "3" and base["env steps"] == "10,000/10,000"


def test_table2_auc_is_the_trapezoid_over_env_steps(out):
    rows = table((out / "report.md").read_text(), "Table 2: AUC")
    base, marta = row(rows, "table2-lbf-qmix", "QMIX"), row(rows, "table2-lbf-qmix", "MARTA-QMIX")
    span = STEPS[-1] - STEPS[0]
    assert pm(base["ours (μ ± σ)"])[0] == pytest.approx(0.51 * span, rel=1e-3)
    # integral of 0.1 + x/1e4 from 1e3 to 1e4 is 900 + 4950; seeds add 0.01 k * 9000
    assert pm(marta["ours (μ ± σ)"])[0] == pytest.approx(5850 + 0.01 * span, rel=1e-3)
    assert base["paper (μ ± σ)"] == "1.97e+06 ± 1.89e+06"
    assert float(marta["gain % paper"]) == pytest.approx(23.9)
    assert float(marta["gain % ours"]) == pytest.approx(
        (5940 - 0.51 * span) / (0.51 * span) * 100, abs=0.05
    )


def test_missing_and_running_runs_are_reported_as_such(out):
    text = (out / "report.md").read_text()
    rows = table(text, "Table 2: final return")
    base, marta = row(rows, "table2-tj-vdn", "VDN"), row(rows, "table2-tj-vdn", "MARTA-VDN")
    assert base["status"] == "running" and base["env steps"] == "4,000/10,000"
    assert marta["status"] == "missing" and marta["ours (μ ± σ)"] == "—"
    assert marta["paper (μ ± σ)"] == "-24.9 ± 0.8"  # the paper's side is still shown
    runs = table(text, "Runs")
    (tj_marta,) = [r for r in runs if r["preset"] == "`table2-tj-vdn`" and r["run"] == "marta"]
    assert tj_marta["status"] == "missing"
    (tj_base,) = [r for r in runs if r["preset"] == "`table2-tj-vdn`" and r["run"] == "baseline"]
    assert "4/10 segments" in tj_base["note"]
    assert "7 running" not in text and "1 missing" in text and "1 running" in text


def test_header_scorecard_and_wall_time(out):
    text = (out / "report.md").read_text()
    assert "budget `smoke`" in text
    # the software each sitting recorded (the first sitting predates the record)
    assert (
        "software by sitting: not recorded (sitting 1); "
        "marta 0.1.0 (jax 0.10.2, jaxlib 0.10.2) (sitting 2)."
    ) in text
    assert "**Wall time**: 1h 02m 03s in 2 sittings (workers: 2, 1)" in text
    assert "at least" not in text
    runs = table(text, "Runs")
    run_times = [duration_s(r["wall time"]) for r in runs if r["wall time"] != "—"]
    (total,) = re.findall(r"the runs' own wall times add up to ([0-9hms ]+)\.", text)
    assert len(run_times) > 2 and abs(duration_s(total) - sum(run_times)) <= len(run_times)
    (lbf_base,) = [r for r in runs if r["preset"] == "`table2-lbf-qmix`" and r["run"] == "baseline"]
    assert lbf_base["wall time"] == "0m 20s"  # 10 segments x 2 s
    assert lbf_base["seeds"] == "3/3"
    cards = table(text, "Scorecard")
    (card,) = [r for r in cards if r["preset"] == "`table2-lbf-qmix`" and r["run"] == "marta"]
    assert pm(card["no_fault"])[0] == pytest.approx(MARTA[:, -1].mean(), rel=1e-3)
    assert card["uniform"] == "—"  # a column the scorecard lacks
    cost = -0.1 / MARTA[:, -1].mean() * 100  # worst case 0.1 below no fault
    assert float(card["worst vs no fault %"]) == pytest.approx(cost, abs=0.051)
    assert card["fault p"] == "0.2"


def test_one_software_for_every_sitting_is_named_once(out):
    reproduction = load_reproduction(out)
    sittings = tuple({**s, "software": "marta 9 (jax 1, jaxlib 1)"} for s in reproduction.sittings)
    text = render_report(dataclasses.replace(reproduction, sittings=sittings), [])
    assert "; marta 9 (jax 1, jaxlib 1).\n" in text and "by sitting" not in text


def test_a_file_from_before_sittings_gives_a_lower_bound(tmp_path):
    out = tmp_path / "old"
    out.mkdir()
    (out / "reproduce.json").write_text(json.dumps({"budget": "paper", "wall_time_s": 9828.0}))
    lbf = write_preset(out, "table2-lbf-qmix", "table2", [{"name": "baseline", "tags": {}}])
    write_run(lbf / "baseline", BASELINE)
    text = write_report(out).read_text()
    assert "**Wall time**: at least 2h 43m 48s (the marta that wrote" in text


def test_finished_runs_get_their_time_in_one_sitting_in_reproduces_order(tmp_path, out):
    """Once every run is done, the header says how long the runs' own wall times take on the
    last sitting's workers when started as `marta reproduce` starts them: the 3-seed preset's
    runs first (more update work), MARTA before its baseline. Two workers: 20 s, then 60 s
    and 60 s on one, 100 s on the other: 140 s (plan order would take 160 s)."""
    times = {"a/baseline": 60.0, "a/marta": 60.0, "b/baseline": 100.0, "b/marta": 20.0}
    sittings = [{"started": "2026-11-29T08:00:00+00:00", "workers": 1, "wall_time_s": 9.0}]
    sittings.append({**sittings[0], "workers": 2})
    (tmp_path / "reproduce.json").write_text(
        json.dumps(
            {
                "budget": "paper",
                "presets": ["a", "b"],
                "sittings": sittings,
                "runs": {k: {"status": "done", "wall_time_s": t} for k, t in times.items()},
            }
        )
    )
    two_runs = [{"name": m, "tags": {"method": m}} for m in ("baseline", "marta")]
    for name, curves in (("a", BASELINE[:1]), ("b", BASELINE)):
        preset = write_preset(tmp_path, name, "table2", two_runs)
        for run in two_runs:
            write_run(preset / run["name"], curves)
    text = write_report(tmp_path).read_text()
    assert "In one sitting on 2 workers, started as `marta reproduce` starts them" in text
    assert "runs of these wall times take 2m 20s" in text
    assert schedule_time([60, 60, 100, 20], 2) == 160.0  # the plan's order
    assert schedule_time([20, 100, 60, 60], 1) == 240.0
    with pytest.raises(ValueError, match="workers must be >= 1"):
        schedule_time([1.0], 0)
    # not while a run is missing or running, nor without the sittings' workers
    assert "In one sitting" not in (out / "report.md").read_text()


def test_a_copy_of_finished_runs_without_checkpoints_is_done(tmp_path):
    """results/paper/ keeps metrics and scorecards, not checkpoints: reproduce.json decides."""
    write_run(tmp_path / "full", BASELINE)
    write_run(tmp_path / "half", BASELINE[:, : SEGMENTS // 2])
    for name in ("full", "half"):
        shutil.rmtree(tmp_path / name / "checkpoints")
    done = {"status": "done"}
    assert load_run(tmp_path / "full", preset="p", tags={}, record=done).status == "done"
    assert load_run(tmp_path / "full", preset="p", tags={}).status == "running"
    assert load_run(tmp_path / "half", preset="p", tags={}, record=done).status == "running"


def test_every_experiment_has_a_png_linked_relative_to_the_report(out):
    text = (out / "report.md").read_text()
    expected = [
        "fig1-table2-lbf-qmix",
        "fig1-table2-tj-vdn",
        "fig2a-cost_sweep-x",
        "fig2b-case-tj",
        "fig3-p_sweep-x",
        "fig4-heatmap-tj",
        "fig5-team_size-x",
        "budget-budget_sweep-x",
    ]
    for name in expected:
        path = out / "figures" / f"{name}.png"
        assert path.read_bytes()[:8] == PNG_MAGIC, name
        assert f"](figures/{name}.png)" in text
    assert sorted(p.stem for p in (out / "figures").iterdir()) == sorted(expected)


def test_sweeps_space_the_swept_values_evenly_and_count_unfinished_runs(tmp_path, monkeypatch):
    """c = 0, 0.01, 0.5 at x = 0, 1, 2 with their values as tick labels (a linear axis would
    crowd the first two), and the title says one of the three runs has not finished."""
    from marta.reproduce import figures

    runs = sweep_runs("cost", [0.0, 0.01, 0.5], methods=("marta",))
    preset = write_preset(tmp_path, "cost_sweep-x", "cost_sweep", runs)
    for i, run in enumerate(runs):
        curves = BASELINE[:, : SEGMENTS - 4] if i == 1 else BASELINE  # the second unfinished
        write_run(preset / run["name"], curves + i)
    drawn = []
    monkeypatch.setattr(figures, "_finish", lambda fig, title, out: drawn.append((fig, title)))
    (result,) = load_reproduction(tmp_path).presets
    assert figures.cost_sweep(result, tmp_path / "fig.png") is None
    ((fig, title),) = drawn
    (ax,) = fig.axes  # no activations logged: the final return only
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "0.01", "0.5"]
    assert list(ax.get_lines()[0].get_xdata()) == [0, 1, 2]
    assert "1 of 3 runs unfinished" in title


def test_absent_heatmap_is_skipped_with_a_note(tmp_path):
    preset = write_preset(tmp_path, "heatmap-tj", "heatmap", [{"name": "marta", "tags": {}}])
    write_run(preset / "marta", MARTA)
    text = write_report(tmp_path).read_text()
    assert "Not drawn: no run has activation_map.json" in text
    assert not (tmp_path / "figures" / "fig4-heatmap-tj.png").exists()


def test_report_survives_unreadable_files(tmp_path):
    two_runs = [
        {"name": "baseline", "tags": {"method": "baseline"}},
        {"name": "marta", "tags": {"method": "marta"}},
    ]
    preset = write_preset(
        tmp_path, "table2-x", "table2", two_runs, paper_row={"env": "nowhere", "base": "qmix"}
    )
    write_run(preset / "baseline", BASELINE)
    (preset / "baseline" / "seed_1" / "metrics.jsonl").write_text("{not json\n")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "preset.yaml").write_text("runs: [unclosed\n")
    text = write_report(tmp_path).read_text()
    assert "is not in the paper's Table 2" in text  # unknown paper_row: a note, no crash
    assert "not valid JSON" in text  # the torn metrics file is named in the run's note
    assert "## Problems" in text and "invalid YAML" in text


def test_cli_report(out, capsys):
    assert main(["report", str(out)]) == 0
    assert f"wrote {out / 'report.md'}" in capsys.readouterr().out


def test_cli_report_refuses_a_directory_without_presets(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "holds no <preset>/preset.yaml" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "nope")]) == 2
    assert "is not a directory" in capsys.readouterr().err


# ------------------------------------------------------------------- pooled seeds (marta gain)
def test_pooled_gain_pools_the_seeds_of_every_run(tmp_path, capsys):
    """Two replicates of 3 seeds each: the gain and its CI are those of the 6 pooled seeds."""
    for name, curves in (("b1", BASELINE), ("b2", BASELINE + 0.1), ("m1", MARTA), ("m2", MARTA)):
        write_run(tmp_path / name, curves, seed=3 if name.endswith("2") else 0)
    rows = pooled_comparison([tmp_path / "b1", tmp_path / "b2"], [tmp_path / "m1", tmp_path / "m2"])
    by = {(r["metric"], r["method"]): r for r in rows}
    base = np.concatenate([BASELINE[:, -5:].mean(1), BASELINE[:, -5:].mean(1) + 0.1])
    marta = np.tile(MARTA[:, -5:].mean(1), 2)
    final = by[("final return", "marta")]
    assert final["seeds"] == "6" and by[("final return", "baseline")]["seeds"] == "6"
    assert pm(final["μ ± σ"]) == pytest.approx((marta.mean(), marta.std()), rel=1e-3)
    gain = (marta.mean() - base.mean()) / abs(base.mean()) * 100
    assert float(final["gain %"]) == pytest.approx(gain, abs=0.05)
    low, high = (float(x) for x in final["gain 95% CI"].strip("[]").split(","))
    assert low < gain < high
    assert by[("final return", "baseline")]["gain %"] == "—"
    assert ("scorecard no_fault", "marta") in by and ("AUC", "marta") in by
    best = np.tile(MARTA.max(1), 2)
    assert pm(by[("best evaluation", "marta")]["μ ± σ"]) == pytest.approx(
        (best.mean(), best.std()), rel=1e-3
    )
    assert main(["gain", "--baseline", str(tmp_path / "b1"), "--marta", str(tmp_path / "m1")]) == 0
    assert "final return" in capsys.readouterr().out
    # a repeated --baseline/--marta adds runs (it used to replace the earlier ones, silently)
    b1, b2, m1, m2 = (str(tmp_path / name) for name in ("b1", "b2", "m1", "m2"))
    assert main(["gain", "--baseline", b1, b2, "--marta", m1, m2]) == 0
    together = capsys.readouterr().out
    assert main(["gain", "--baseline", b1, "--marta", m1, "--baseline", b2, "--marta", m2]) == 0
    assert capsys.readouterr().out == together


def test_pooled_gain_refuses_to_count_the_same_seeds_twice(tmp_path):
    for name in ("b1", "b2", "m"):
        write_run(tmp_path / name, BASELINE)
    with pytest.raises(ValueError, match="--baseline: .*b2.* and .*b1.* both have base seed 0"):
        pooled_comparison([tmp_path / "b1", tmp_path / "b2"], [tmp_path / "m"])
    with pytest.raises(ValueError, match="both have base seed 0"):
        pooled_comparison([tmp_path / "b1"], [tmp_path / "m", tmp_path / "m"])


def test_pooled_gain_warns_when_one_methods_configs_differ_besides_the_seed(tmp_path, capsys):
    """Replicates of one config (other seeds) pool silently; a directory of another config
    (here another learning rate) is pooled with a warning that names the field."""
    for name, seed in (("b1", 0), ("b2", 3), ("m1", 0), ("m2", 3)):
        write_run(tmp_path / name, BASELINE if name[0] == "b" else MARTA, seed=seed)
    dirs = {n: tmp_path / n for n in ("b1", "b2", "m1", "m2")}
    with warnings.catch_warnings():
        warnings.simplefilter("error", PooledConfigWarning)
        pooled_comparison([dirs["b1"], dirs["b2"]], [dirs["m1"], dirs["m2"]])
    config = yaml.safe_load((dirs["b2"] / "config.yaml").read_text())
    config["learner"] = {"lr": 0.01}
    (dirs["b2"] / "config.yaml").write_text(yaml.safe_dump(config))
    with pytest.warns(
        PooledConfigWarning,
        match=r"--baseline: .*b2.* and .*b1.* differ in learner\.lr \(besides the seed\)",
    ):
        pooled_comparison([dirs["b1"], dirs["b2"]], [dirs["m1"], dirs["m2"]])
    args = ["gain", "--baseline", str(dirs["b1"]), str(dirs["b2"]), "--marta", str(dirs["m1"])]
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert "warning: --baseline:" in err and "learner.lr" in err and "final return" in out


def _replicate(out: Path, seed: int, budget: str = "fast") -> None:
    """A reproduction output holding one finished Table 2 preset with base seed `seed`."""
    out.mkdir()
    (out / "reproduce.json").write_text(json.dumps({"budget": budget, "seed": seed}))
    runs = [{"name": m, "tags": {"method": m}} for m in ("baseline", "marta")]
    preset = write_preset(out, "table2-lbf-qmix", "table2", runs, paper_row={"env": "x"})
    write_run(preset / "baseline", BASELINE + seed, seed=seed)
    write_run(preset / "marta", MARTA, seed=seed)
    write_preset(out, "p_sweep-x", "p_sweep", sweep_runs("p", [0.1]))


def test_pooled_table2_pools_each_row_over_replicate_outputs(tmp_path, capsys):
    """`marta gain --outputs A B`: each Table 2 row with the seeds of both outputs pooled,
    final return and AUC only; outputs of different budgets are refused."""
    _replicate(tmp_path / "a", seed=0)
    _replicate(tmp_path / "b", seed=1)
    rows = pooled_table2([tmp_path / "a", tmp_path / "b"])
    assert {(r["preset"], r["metric"], r["method"]) for r in rows} == {
        ("table2-lbf-qmix", metric, method)
        for metric in ("final return", "AUC", "best evaluation")
        for method in ("baseline", "marta")
    }
    by = {(r["metric"], r["method"]): r for r in rows}
    base = np.concatenate([BASELINE[:, -5:].mean(1), BASELINE[:, -5:].mean(1) + 1])
    assert by[("final return", "baseline")]["seeds"] == "6"
    assert pm(by[("final return", "baseline")]["μ ± σ"]) == pytest.approx(
        (base.mean(), base.std()), rel=1e-3
    )
    assert main(["gain", "--outputs", str(tmp_path / "a"), str(tmp_path / "b")]) == 0
    assert "table2-lbf-qmix" in capsys.readouterr().out
    _replicate(tmp_path / "c", seed=2, budget="paper")
    with pytest.raises(ValueError, match="different budgets"):
        pooled_table2([tmp_path / "a", tmp_path / "c"])
    assert main(["gain", "--outputs", str(tmp_path / "a"), "--marta", str(tmp_path / "a")]) == 2
    assert "not both" in capsys.readouterr().err
    assert main(["gain", "--marta", str(tmp_path / "a")]) == 2
    assert "--baseline DIR... and --marta DIR..." in capsys.readouterr().err


def test_pooled_table2_leaves_out_rows_a_replicate_has_not_finished(tmp_path, capsys):
    """A replicate still running: the rows it has not finished are left out with a warning
    naming the unfinished runs, the others pooled; none finished everywhere is an error."""
    for name, seed, finished in (("d", 3, True), ("e", 4, False)):
        _replicate(tmp_path / name, seed=seed)
        runs = [{"name": m, "tags": {"method": m}} for m in ("baseline", "marta")]
        row = write_preset(tmp_path / name, "table2-tj-vdn", "table2", runs, paper_row={"env": "y"})
        write_run(row / "baseline", BASELINE, seed=seed)
        write_run(row / "marta", MARTA if finished else MARTA[:, :-1], seed=seed)
    outputs = [tmp_path / "d", tmp_path / "e"]
    unfinished = r"table2-tj-vdn left out: not done in \S*e/table2-tj-vdn/marta \(running\)$"
    with pytest.warns(UnfinishedRowWarning, match=unfinished):
        rows = pooled_table2(outputs)
    assert {r["preset"] for r in rows} == {"table2-lbf-qmix"}
    assert main(["gain", "--outputs", *map(str, outputs)]) == 0
    out, err = capsys.readouterr()
    assert "warning: table2-tj-vdn left out" in err
    assert "table2-lbf-qmix" in out and "table2-tj-vdn" not in out
    shutil.rmtree(tmp_path / "e" / "table2-lbf-qmix")
    with (
        pytest.warns(UnfinishedRowWarning),
        pytest.raises(ValueError, match="no table2 preset is finished in every one of"),
    ):
        pooled_table2(outputs)


def test_pooled_gain_refuses_runs_of_different_lengths_and_empty_dirs(tmp_path, capsys):
    write_run(tmp_path / "b", BASELINE)
    write_run(tmp_path / "short", MARTA[:, :4])
    with pytest.raises(ValueError, match="different env steps"):
        pooled_comparison([tmp_path / "b"], [tmp_path / "short"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="--marta: .*empty.* has no evaluations"):
        pooled_comparison([tmp_path / "b"], [tmp_path / "empty"])
    assert main(["gain", "--baseline", str(tmp_path / "b"), "--marta", "nowhere"]) == 2
    assert "'nowhere' is not a run directory" in capsys.readouterr().err
