"""`marta reproduce` and `marta presets`: presets, skip/resume, bad input, the Ray backend.

The backend tests run a cheap two-run preset (critical-state env) at the smoke budget and
share one JAX compilation cache, so the Ray test loads the programs the local test compiled;
the real ``table2-lbf-qmix`` preset end to end (MARTA compiles for a minute or more per run
on 2 cores) is the slow test.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from marta.cli import main
from marta.experiments.checkpoint import read_checkpoint_info
from marta.experiments.compile_cache import resolve_cache_dir
from marta.experiments.config import (
    config_differences,
    load_config,
    save_config,
    software_versions,
)
from marta.experiments.io import read_jsonl
from marta.experiments.runner import run_experiment
from marta.reproduce.presets import (
    BUDGETS,
    EXPERIMENTS,
    load_preset,
    load_presets,
    preset_from_dict,
    resolve_config,
    select_presets,
)
from marta.reproduce.runs import (
    LOCK_FILE,
    LOG_FILE,
    RunState,
    inspect_run,
    plan_copies,
    plan_runs,
    read_status,
    reproduce,
    update_work,
)
from marta.switcher import SwitcherConfig

PRESET = "table2-lbf-qmix"
TABLE1 = Path("/work/shared/paper/table1_settings.csv")


# ------------------------------------------------------------------------------ presets
def test_presets_cover_every_experiment_and_resolve_under_every_budget():
    presets = load_presets()
    assert {p.experiment for p in presets} == set(EXPERIMENTS)
    assert len({p.name for p in presets}) == len(presets)
    for preset in presets:
        for budget in BUDGETS:
            configs = [resolve_config(preset, run, budget) for run in preset.runs]
            for run, config in zip(preset.runs, configs, strict=True):
                assert config.marta is not None
                assert config.marta.method == run.tags["method"]
                assert config.train.total_env_steps % config.train.eval_interval == 0


def test_the_switcher_learns_at_the_team_learners_reward_scale():
    """Every preset's Switcher scales the team reward as its team learner does (docs/switcher.md,
    "Reward scale"): 0.1 on the MPE rows, 1 (the paper's reward) elsewhere."""
    scales = {}
    for preset in load_presets():
        for run in preset.runs:
            config = resolve_config(preset, run, "paper")
            if config.marta.method == "marta":
                k = config.marta.switcher.reward_scale
                assert k == config.learner.reward_scale, (preset.name, run.name)
                scales[preset.name] = k
    assert scales["table2-mpe-maddpg"] == scales["table2-mpe-qmix"] == 0.1
    assert scales["table2-tj-vdn"] == scales["fig2a-cost-sweep"] == 1.0


#: the size of an environment's reward events: a Traffic Junction collision costs 10, a
#: Simple-Tag tag pays 10, an LBF episode's food is worth at most 1 in all
REWARD_UNIT = {"tj": 10.0, "mpe": 10.0, "lbf": 1.0}


def test_the_switcher_starts_at_sacs_temperature_per_unit_of_reward():
    """Every preset's Switcher starts at alpha_0 = 0.2 k u: SAC's default temperature per
    reward unit u of its environment, at its reward scale k (docs/switcher.md, "Initial
    temperature"): 2.0 on Traffic Junction, 0.2 on MPE (k = 0.1) and LBF."""
    alphas = {}
    for preset in load_presets():
        for run in preset.runs:
            config = resolve_config(preset, run, "paper")
            switcher = config.marta.switcher
            if config.marta.method == "marta":
                unit = REWARD_UNIT[config.env_id.split("-")[0]]
                expected = 0.2 * switcher.reward_scale * unit
                assert switcher.initial_alpha == pytest.approx(expected), (preset.name, run.name)
                alphas[preset.name] = switcher.initial_alpha
            else:
                assert switcher.initial_alpha == 0.2  # a baseline has no Switcher
    assert alphas["table2-tj-qmix"] == alphas["fig4-heatmap"] == 2.0
    assert alphas["table2-mpe-maddpg"] == alphas["table2-lbf-vdn"] == 0.2


def test_budgets_follow_the_issue():
    steps = {"lbf": 2_700_000, "tj": 1_200_000, "mpe": 1_200_000}
    for preset in load_presets():
        for run in preset.runs:
            paper = resolve_config(preset, run, "paper")
            assert paper.num_seeds == 3
            assert paper.train.eval_interval == 10_000
            assert paper.train.eval_episodes == 100
            assert paper.train.total_env_steps == steps[paper.env_id.split("-")[0]]
            smoke = resolve_config(preset, run, "smoke")
            assert smoke.train.total_env_steps <= 5_000
            assert smoke.train.num_segments >= 2  # something to resume from


def test_fast_budget_is_the_paper_protocol_with_fewer_updates():
    """`fast` differs from `paper` only in the update ratio (2.5x the parallel envs, hence
    one update per 2.5x the env steps) and a 2.5x larger learning rate."""
    for preset in load_presets():
        for run in preset.runs:
            paper = resolve_config(preset, run, "paper").to_dict()
            fast = resolve_config(preset, run, "fast").to_dict()
            assert fast["train"]["num_envs"] == 2.5 * paper["train"]["num_envs"]
            assert fast["learner"]["lr"] == pytest.approx(2.5 * paper["learner"]["lr"])
            for config in (paper, fast):
                del config["train"]["num_envs"], config["learner"]["lr"]
            assert fast == paper, (preset.name, run.name)


def test_runs_start_by_the_work_of_their_updates(tmp_path, monkeypatch):
    """`marta reproduce` starts the runs whose updates do the most work first: at `paper`,
    `tj-6` QMIX (6 agents, 101-step batches) before LBF (2.7M env steps, 51-step batches)
    before `tj-4` before MPE (26-step batches, 4 updates per rollout) before MADDPG (batch
    16); a run with a Switcher before its baseline."""
    specs = {s.key: s.config for s in plan_runs(select_presets(["table2"]), "paper")}
    # 3 seeds x (1.2M / (16 x 5)) rollouts x 1 update x batch 32 x 101 steps x 6 agents
    tj6 = 3 * 15_000 * 32 * 101 * 6
    assert update_work(specs["table2-tj-qmix/baseline"]) == (tj6, 0)
    assert update_work(specs["table2-tj-qmix/marta"]) == (tj6, 1)
    assert update_work(specs["table2-mpe-qmix/baseline"]) == (3 * 15_000 * 4 * 32 * 26 * 3, 0)
    started = []

    def run_local(payloads, **_):
        started.extend(f"{p['preset']}/{p['run']}" for p in payloads)
        return True

    monkeypatch.setattr("marta.reproduce.local.run_local", run_local)
    reproduce(select_presets(["table2"]), "paper", tmp_path, stream=io.StringIO())
    assert started[:2] == ["table2-tj-qmix/marta", "table2-tj-qmix/baseline"]
    assert {k.split("/")[0] for k in started[2:6]} == {"table2-lbf-vdn", "table2-lbf-qmix"}
    assert [k.split("/")[0] for k in started[6:]] == [
        *["table2-tj-vdn"] * 2,
        *["table2-mpe-qmix"] * 2,
        *["table2-mpe-maddpg"] * 2,
    ]
    for preset in {k.split("/")[0] for k in started}:
        assert started.index(f"{preset}/marta") < started.index(f"{preset}/baseline")


def test_fast_scales_the_learning_rate_a_preset_or_run_sets():
    """budgets.yaml's `scale` multiplies after every layer: a preset's own lr and a run's lr
    override both become 2.5x larger under `fast`, instead of being replaced by one number."""
    base = {**CHEAP["base"], "learner": {"lr": 0.002}}
    runs = [CHEAP["runs"][0], {**CHEAP["runs"][1], "overrides": {"learner.lr": 0.0001}}]
    preset = preset_from_dict({**CHEAP, "base": base, "runs": runs}, source="test")
    lrs = {
        run.name: tuple(resolve_config(preset, run, b).learner.lr for b in ("paper", "fast"))
        for run in preset.runs
    }
    assert lrs == {"baseline-p0.1": (0.002, 0.005), "baseline-p0.3": (0.0001, 0.00025)}
    assert preset.to_dict("fast")["scale"] == {"learner.lr": 2.5}


def test_bad_budget_scales_are_refused(tmp_path, monkeypatch):
    budgets = tmp_path / "budgets.yaml"
    monkeypatch.setattr("marta.reproduce.presets.BUDGETS_FILE", budgets)
    budgets.write_text("fast:\n  scale: {learner.lr: -1}\n")
    with pytest.raises(ValueError, match=r"fast\.scale\.learner\.lr must be a positive number"):
        preset_from_dict(CHEAP, source="test")
    budgets.write_text("fast:\n  scale: {train.num_envs: 2}\n")
    preset = preset_from_dict(CHEAP, source="test")
    with pytest.raises(ValueError, match="budget fast: scale.train.num_envs must be a float"):
        resolve_config(preset, preset.runs[0], "fast")


def test_swept_tags_match_the_configs():
    seen = {}
    for preset in load_presets():
        for run in preset.runs:
            config = resolve_config(preset, run, "smoke")
            fault, tags = config.marta.train_fault, run.tags
            if "cost" in tags:
                assert config.marta.switcher.activation_cost == tags["cost"]
            if "p" in tags:
                assert fault.p == tags["p"]
            if "budget" in tags:
                assert fault.budget == tags["budget"] and config.marta.switcher.use_budget
            if "n_agents" in tags:
                import marta.envs

                assert marta.envs.make(config.env_id).num_agents == tags["n_agents"]
            if "case" in tags:  # Case 1 evaluates with the training faults, Case 2 does not
                shifted = config.marta.evaluation_fault != fault
                assert shifted == (tags["case"] == 2)
            if config.marta.method == "marta":
                assert fault.policy == "worst_case"
            else:
                assert fault.policy == "uniform"
            seen.setdefault(preset.experiment, set()).update(set(tags) - {"method"})
    assert seen["cost_sweep"] == {"cost"} and seen["p_sweep"] == {"p"}
    assert seen["team_size"] == {"n_agents"} and seen["budget_sweep"] == {"budget"}
    assert seen["case"] == {"case", "cost"}
    costs = {r.tags["cost"] for r in load_preset("fig2a-cost-sweep").runs}
    assert costs == {0.0, 0.01, 0.05, 0.1, 0.5}
    assert {r.tags["p"] for r in load_preset("fig3-p-sweep").runs} == {0.0, 0.1, 0.2, 0.3, 0.4}
    assert {r.tags["n_agents"] for r in load_preset("fig5-team-size").runs} == {2, 3, 4}


@pytest.mark.skipif(not TABLE1.exists(), reason="the paper's Table 1 is not on this machine")
def test_table2_presets_are_table1():
    rows = list(csv.DictReader(TABLE1.open()))
    presets = [p for p in load_presets() if p.experiment == "table2"]
    assert len(presets) == len(rows)
    for row in rows:
        (preset,) = [
            p for p in presets if p.paper_row == {"env": row["env"], "base": row["base_learner"]}
        ]
        for run in preset.runs:
            config = resolve_config(preset, run, "paper")
            fault = config.marta.train_fault
            assert config.learner_name == row["base_learner"]
            assert fault.selection == row["malfunction"] and fault.p == float(row["p"])
            assert config.marta.eval_fault is None  # Case 1
            policy = row[f"{run.tags['method']}_fault_policy"]
            assert fault.policy == policy
            if row["env"] != "mpe_simple_tag":  # MPE: 3 predators + 1 prey (docs/envs)
                import marta.envs

                assert marta.envs.make(config.env_id).num_agents == int(row["n_agents"])


def test_bad_preset_files_are_refused():
    good = load_preset(PRESET).to_dict()
    bad_cases = {
        "experiment": {**good, "experiment": "table9"},
        "tags": {**good, "runs": [{"name": "x", "tags": {"method": "marta", "colour": 1}}]},
        "unique": {**good, "runs": [good["runs"][0], good["runs"][0]]},
        "budgets": {**good, "budgets": {"huge": {}}},
    }
    for field, data in bad_cases.items():
        with pytest.raises(ValueError, match=field):
            preset_from_dict(data, source="test")


# ------------------------------------------------------------------------------ bad input
def test_unknown_preset_lists_the_valid_ones(capsys, tmp_path):
    code = main(
        ["reproduce", "--only", "tabel2-lbf-qmix", "--budget", "smoke", "--out", str(tmp_path)]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "unknown preset 'tabel2-lbf-qmix'" in err and "did you mean 'table2-lbf-qmix'" in err
    assert all(p.name in err for p in load_presets())
    assert not any(tmp_path.iterdir())
    assert main(["presets", "nope"]) == 2


def test_a_bad_set_override_exits_2_naming_the_field_and_writes_nothing(capsys, tmp_path):
    out = tmp_path / "o"
    argv = ["reproduce", "--only", PRESET, "--budget", "smoke", "--out", str(out)]
    assert main([*argv, "--set", "learner.nope=1"]) == 2
    err = capsys.readouterr().err
    assert f"--set, preset {PRESET}, run baseline" in err and "nope" in err
    assert main([*argv, "--set", "learner.lr"]) == 2
    assert "--set: expected field=value" in capsys.readouterr().err
    # a repeated --set adds to the earlier ones (it used to replace them, silently)
    assert main([*argv, "--set", "learner.nope=1", "--set", "learner.lr=0.001"]) == 2
    assert "nope" in capsys.readouterr().err
    assert not out.exists()


def test_output_with_runs_of_another_config_is_refused_unless_force(tmp_path, monkeypatch):
    preset = load_preset(PRESET)
    spec = plan_runs([preset], "smoke")[0]
    other = spec.config.replace(seed=7)
    run_dir = tmp_path / spec.key
    run_dir.mkdir(parents=True)
    save_config(other, run_dir / "config.yaml")
    before = (run_dir / "config.yaml").read_text()
    (tmp_path / "reproduce.json").write_text(json.dumps({"budget": "quick", "runs": {}}))
    with pytest.raises(ValueError, match=r"different config.*differs in seed.*--force"):
        reproduce([preset], "smoke", tmp_path)
    assert (run_dir / "config.yaml").read_text() == before
    assert not (tmp_path / PRESET / "preset.yaml").exists()

    started = []
    monkeypatch.setattr(
        "marta.reproduce.local.run_local", lambda payloads, **kw: started.extend(payloads) or True
    )
    reproduce([preset], "smoke", tmp_path, force=True)
    # every run, once, by the work of its updates: equal work, the Switcher's run first
    assert [r.name for r in preset.runs] == ["baseline", "marta"]
    assert [p["run"] for p in started] == ["marta", "baseline"]
    assert all(p["force"] for p in started)
    assert read_status(tmp_path)["budget"] == "smoke"


def test_a_run_whose_directory_is_gone_starts_its_wall_time_again(tmp_path, monkeypatch):
    """OUT rebuilt from a copy without the unfinished run's directory: the run starts from
    nothing, so the seconds recorded for the lost attempts leave its wall time (they stay in
    their sitting's); a run outside the plan keeps its entry."""
    preset = load_preset(PRESET)
    spec = plan_runs([preset], "smoke")[0]
    runs = {
        spec.key: {"status": "pending", "wall_time_s": 300.0},
        "other/run": {"status": "done", "wall_time_s": 9.0},
    }
    sitting = {"started": "2026-11-29T08:00:00+00:00", "backend": "local", "workers": 2}
    old = {"budget": "smoke", "sittings": [{**sitting, "wall_time_s": 400.0}], "runs": runs}
    (tmp_path / "reproduce.json").write_text(json.dumps(old))
    monkeypatch.setattr("marta.reproduce.local.run_local", lambda payloads, **kw: True)
    reproduce([preset], "smoke", tmp_path, stream=io.StringIO())
    status = read_status(tmp_path)
    assert status["runs"][spec.key] == {"status": "pending"}
    assert status["runs"]["other/run"] == {"status": "done", "wall_time_s": 9.0}
    assert status["sittings"][0]["wall_time_s"] == 400.0
    assert status["wall_time_s"] >= 400.0
    # each sitting records the versions its numbers depend on
    assert status["sittings"][1]["software"] == software_versions()
    assert "software" not in status["sittings"][0]  # an older sitting's record is kept as is


def test_a_foreign_directory_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not an output of marta reproduce"):
        reproduce([load_preset(PRESET)], "smoke", tmp_path)


def test_unreachable_ray_address_fails_fast(tmp_path, capsys):
    pytest.importorskip("ray")
    began = time.perf_counter()
    code = main(
        ["reproduce", "--only", PRESET, "--budget", "smoke", "--out", str(tmp_path / "o"),
         "--backend", "ray", "--address", "127.0.0.1:9"]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and time.perf_counter() - began < 15
    assert "cannot reach the Ray cluster at '127.0.0.1:9'" in err
    assert not (tmp_path / "o").exists()


# ------------------------------------------------------------------------------ end to end
#: a cheap preset for the backend tests: two baseline runs on the 8-step critical-state env
#: (a few seconds of compilation each instead of a minute), 10 segments to kill one in
CHEAP = {
    "name": "cheap",
    "experiment": "p_sweep",
    "base": {
        "env_id": "critical-state",
        "learner_name": "iql",
        "marta": {"method": "baseline", "train_fault": {"policy": "uniform"}},
    },
    "budgets": {"smoke": {"train.total_env_steps": 4000}},
    "runs": [
        {"name": f"baseline-p{p}", "tags": {"method": "baseline", "p": p},
         "overrides": {"marta.train_fault.p": p}}
        for p in (0.1, 0.3)
    ],
}  # fmt: skip


@pytest.fixture(scope="module")
def compile_cache() -> Path:
    """The test session's JAX compilation cache (tests/conftest.py), so that the workers'
    programs and those compiled in this process are compiled once."""
    return resolve_cache_dir()


def _kill_after_first_checkpoint(run_dir: Path, num_segments: int, thread: threading.Thread) -> int:
    """Waits for the run's first checkpoint, then kills (-9) the process named in its log.

    Returns the segments the checkpoint held when the process was killed.
    """
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and thread.is_alive():
        info = None
        if (run_dir / "checkpoints" / "latest.json").exists():
            info = read_checkpoint_info(run_dir / "checkpoints")
        if info is not None and info.segments_done >= 1:
            assert info.segments_done < num_segments, "the run finished before it was killed"
            pid = int((run_dir / LOG_FILE).read_text().split(": pid ")[-1].split()[0])
            os.kill(pid, signal.SIGKILL)
            return info.segments_done
        time.sleep(0.01)
    raise AssertionError(f"no checkpoint in {run_dir} (reproduce ended: {not thread.is_alive()})")


def _in_thread(fn, **kwargs) -> tuple[threading.Thread, dict]:
    """Runs ``fn(**kwargs)`` in a thread; the dict gets its ``result`` or ``error``."""
    out = {}

    def target() -> None:
        try:
            out["result"] = fn(**kwargs)
        except BaseException as err:  # re-raised by the test after join
            out["error"] = err

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, out


def _joined(thread: threading.Thread, out: dict):
    thread.join(timeout=600)
    if "error" in out:
        raise out["error"]
    return out["result"]


def _assert_complete(run_dir: Path, num_seeds: int, num_segments: int) -> None:
    """Every seed has exactly one metrics line per segment, in order; scorecard written."""
    for k in range(num_seeds):
        lines = read_jsonl(run_dir / f"seed_{k}" / "metrics.jsonl")
        assert [r["segment"] for r in lines] == list(range(1, num_segments + 1))
    assert (run_dir / "scorecard.json").exists()


def test_local_backend_resumes_a_killed_run_and_skips_finished_ones(tmp_path, compile_cache):
    preset = preset_from_dict(CHEAP, source="test")
    specs = plan_runs([preset], "smoke")
    segments = specs[0].config.train.num_segments
    out = tmp_path / "out"
    thread, result = _in_thread(
        reproduce, presets=[preset], budget="smoke", out=out, workers=2, cache_dir=compile_cache
    )
    victim = out / specs[1].key
    _kill_after_first_checkpoint(victim, segments, thread)
    first = _joined(thread, result)
    assert first.failed == (specs[1].key,) and first.done == 1
    status = read_status(out)
    assert status["runs"][specs[1].key]["status"] == "failed"
    assert "killed by signal 9" in status["runs"][specs[1].key]["error"]
    assert status["runs"][specs[0].key]["status"] == "done"
    assert inspect_run(specs[1], out).action == "resume"

    second = reproduce([preset], "smoke", out, workers=2, cache_dir=compile_cache)
    assert (second.skipped, second.done, second.failed) == (1, 2, ())
    sittings = read_status(out)["sittings"]
    assert [s["workers"] for s in sittings] == [2, 2]
    assert min(s["wall_time_s"] for s in sittings) > 0
    assert read_status(out)["wall_time_s"] == pytest.approx(sum(s["wall_time_s"] for s in sittings))
    assert "state: resume" in (victim / LOG_FILE).read_text()
    for spec in specs:
        _assert_complete(out / spec.key, spec.config.num_seeds, segments)
        assert read_status(out)["runs"][spec.key]["status"] == "done"
    assert (out / preset.name / "preset.yaml").exists()

    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    third = reproduce([preset], "smoke", out, workers=2, cache_dir=compile_cache)
    assert (third.skipped, third.done) == (2, 2)
    changed = {p for p in stamps if p.stat().st_mtime_ns != stamps[p]}
    assert changed == {out / "reproduce.json"} | {out / preset.name / "preset.yaml"}

    # finished runs kept without their checkpoints (as results/ keeps them) are done too
    for spec in specs:
        shutil.rmtree(out / spec.key / "checkpoints")
        assert inspect_run(spec, out).action == "done"
    fourth = reproduce([preset], "smoke", out, workers=2, cache_dir=compile_cache)
    assert (fourth.skipped, fourth.done) == (2, 2)
    changed = {p for p in stamps if p.exists() and p.stat().st_mtime_ns != stamps[p]}
    assert changed == {out / "reproduce.json"} | {out / preset.name / "preset.yaml"}


def test_the_suites_repeated_configs_are_copied_not_run_again(capsys):
    """Fig. 4's run is Fig. 2a's c = 0, as are Fig. 2b's Case 1 at c = 0 and Fig. 3's MARTA
    at p = 0.1 (and Fig. 2b's Case 1 at c = 0.1, 0.5 are Fig. 2a's); Fig. 5's 4 agents are
    Table 2's LBF QMIX row: under every budget each of these configs runs once."""
    expected = {
        "fig2b-case/case1-c0": "fig2a-cost-sweep/marta-c0",
        "fig3-p-sweep/marta-p0.1": "fig2a-cost-sweep/marta-c0",
        "fig4-heatmap/marta": "fig2a-cost-sweep/marta-c0",
        "fig2b-case/case1-c0.1": "fig2a-cost-sweep/marta-c0.1",
        "fig2b-case/case1-c0.5": "fig2a-cost-sweep/marta-c0.5",
        "fig5-team-size/baseline-n4": "table2-lbf-qmix/baseline",
        "fig5-team-size/marta-n4": "table2-lbf-qmix/marta",
    }
    for budget in BUDGETS:
        specs = plan_runs(load_presets(), budget)
        fresh = {spec.key: RunState(action="fresh") for spec in specs}
        copies = plan_copies(specs, fresh)
        assert {key: source.key for key, source in copies.items()} == expected
        by_key = {spec.key: spec for spec in specs}
        for key, source in copies.items():
            assert config_differences(by_key[key].config, source.config) == []
        sources = [spec for spec in specs if spec.key not in copies]
        for i, a in enumerate(sources):  # the runs left all differ
            assert all(config_differences(a.config, b.config) for b in sources[i + 1 :])
        # a copy already done is the source of the others
        done = {**fresh, "fig4-heatmap/marta": RunState(action="done")}
        assert plan_copies(specs, done)["fig2a-cost-sweep/marta-c0"].key == "fig4-heatmap/marta"
    assert main(["presets", "--budget", "fast"]) == 0
    out = capsys.readouterr().out
    assert f"{len(specs)} runs, {len(specs) - len(expected)} distinct configs" in out
    # each preset's share of the update work, copies costing nothing (fig4's one run is one)
    header, _, *rows = out.split("\n\n")[0].splitlines()
    column = header.split().index("work_%")
    shares = {row.split()[0]: float(row.split()[column]) for row in rows}
    assert shares["fig4-heatmap"] == 0.0
    assert shares["table2-tj-qmix"] > shares["table2-tj-vdn"] > shares["table2-mpe-maddpg"] > 0
    assert sum(shares.values()) == pytest.approx(100, abs=0.5)  # rounded to 0.1 each


def test_runs_of_the_same_config_run_once_and_the_others_copy_it(
    tmp_path, compile_cache, monkeypatch
):
    """A run repeated under another name runs once; the other gets a copy of its results
    (no checkpoints) when it finishes, recorded in reproduce.json and the report; rerunning
    changes nothing; and whichever of the two is done is the source."""
    from marta.reproduce.report import write_report

    twin = {**CHEAP["runs"][0], "name": "twin"}
    preset = preset_from_dict({**CHEAP, "runs": [*CHEAP["runs"], twin]}, source="test")
    first, _, second = specs = plan_runs([preset], "smoke")
    out = tmp_path / "out"
    summary = reproduce([preset], "smoke", out, workers=2, cache_dir=compile_cache)
    assert (summary.done, summary.copied, summary.failed) == (3, 1, ())

    def assert_copy(source: Path, copy: Path) -> None:
        for k in range(first.config.num_seeds):
            metrics = f"seed_{k}/metrics.jsonl"
            assert (copy / metrics).read_text() == (source / metrics).read_text()
        assert (copy / "scorecard.json").read_text() == (source / "scorecard.json").read_text()
        assert not (copy / "checkpoints").exists()
        assert load_config(copy / "config.yaml") == second.config.replace(out_dir=str(copy))
        assert "copied from" in (copy / LOG_FILE).read_text()

    assert_copy(out / first.key, out / second.key)
    assert (out / first.key / "checkpoints").exists()
    assert "copied from" not in (out / first.key / LOG_FILE).read_text()
    assert inspect_run(second, out).action == "done"
    record = read_status(out)["runs"][second.key]
    assert record == {"status": "done", "wall_time_s": 0.0, "same_as": first.key}
    assert f"the same config as {first.key}" in write_report(out).read_text()

    again = reproduce([preset], "smoke", out, workers=2, cache_dir=compile_cache)
    assert (again.skipped, again.copied, again.done) == (3, 0, 3)

    # the first run's results lost: it is copied from its twin, and nothing runs
    shutil.rmtree(out / first.key)
    third = reproduce([preset], "smoke", out, workers=2, cache_dir=compile_cache)
    assert (third.skipped, third.copied, third.done) == (2, 1, 3)
    assert f"copied from {out / second.key}" in (out / first.key / LOG_FILE).read_text()
    assert read_status(out)["runs"][first.key]["same_as"] == second.key
    assert inspect_run(specs[0], out).action == "done"

    # a copy that cannot be written fails that run only, and the rerun copies it
    import marta.reproduce.runs as runs_module

    def full_disk(*args) -> None:
        raise OSError(28, "No space left on device")

    shutil.rmtree(out / first.key)
    with monkeypatch.context() as patch:
        patch.setattr(runs_module, "copy_run", full_disk)
        fourth = reproduce([preset], "smoke", out, workers=2, cache_dir=compile_cache)
    assert (fourth.failed, fourth.copied, fourth.done) == ((first.key,), 0, 2)
    assert "No space left on device" in read_status(out)["runs"][first.key]["error"]
    fifth = reproduce([preset], "smoke", out, workers=2, cache_dir=compile_cache)
    assert (fifth.failed, fifth.copied, fifth.done) == ((), 1, 3)

    # a plan without its source (another preset selection): the copy is to run, and
    # reproduce.json no longer says it is the same as a run outside the plan
    import marta.reproduce.local as local_module

    alone = preset_from_dict({**CHEAP, "runs": [CHEAP["runs"][0]]}, source="test")
    shutil.rmtree(out / first.key)
    with monkeypatch.context() as patch:
        patch.setattr(local_module, "run_local", lambda payloads, **kwargs: True)  # run nothing
        reproduce([alone], "smoke", out, workers=1, cache_dir=compile_cache)
    entry = read_status(out)["runs"][first.key]
    assert entry["status"] == "pending" and "same_as" not in entry


def test_a_seed_replicate_with_overrides_reruns_every_run_with_them(tmp_path, compile_cache):
    """`--seed S --set F=V`: the same runs with base seed S and field F = V, both recorded in
    reproduce.json and the report header; rerunning that output without them is refused
    (its runs differ in seed and in F)."""
    from marta.reproduce.report import write_report

    preset = preset_from_dict(CHEAP, source="test")
    with pytest.raises(ValueError, match="--seed must be an integer >= 0"):
        plan_runs([preset], "smoke", seed=-1)
    out = tmp_path / "replicate"
    summary = reproduce(
        [preset],
        "smoke",
        out,
        workers=1,
        seed=3,
        overrides=["learner.lr=0.002"],
        cache_dir=compile_cache,
    )
    assert (summary.done, summary.failed) == (2, ())
    for spec in plan_runs([preset], "smoke"):
        assert spec.config.seed == 0
        saved = load_config(out / spec.key / "config.yaml")
        learner = dataclasses.replace(spec.config.learner, lr=0.002)
        assert saved == spec.config.replace(seed=3, learner=learner, out_dir=saved.out_dir)
    assert read_status(out)["seed"] == 3
    assert read_status(out)["set"] == ["learner.lr=0.002"]
    header = write_report(out).read_text()
    assert "base seed 3 (`--seed`); every run with `--set learner.lr=0.002`" in header
    with pytest.raises(ValueError, match="differs in learner.lr, seed"):
        reproduce([preset], "smoke", out, workers=1, cache_dir=compile_cache)


MIXED = {
    "name": "mixed",
    "experiment": "p_sweep",
    "base": {"env_id": "critical-state", "learner_name": "iql"},
    "budgets": {"smoke": {"train.total_env_steps": 4000}},
    "runs": [
        {"name": "plain", "tags": {"method": "baseline"}, "overrides": {}},
        {"name": "marta", "tags": {"method": "marta"}, "overrides": {"marta.method": "marta"}},
    ],
}  # fmt: skip


def test_set_overrides_apply_last_and_marta_fields_skip_runs_without_marta():
    preset = preset_from_dict(MIXED, source="test")
    items = ["marta.switcher.reward_scale=0.1", "train.eval_episodes=7"]
    plain, marta_run = plan_runs([preset], "smoke", overrides=items)
    assert plain.config.marta is None  # not turned into a MARTA run
    assert marta_run.config.marta.switcher.reward_scale == 0.1
    assert plain.config.train.eval_episodes == marta_run.config.train.eval_episodes == 7
    # the budget's value is overridden too (smoke sets 4000 env steps)
    (spec, _) = plan_runs([preset], "smoke", overrides=["train.total_env_steps=800"])
    assert spec.config.train.total_env_steps == 800


def test_switcher_set_overrides_skip_baseline_runs_which_have_no_switcher():
    """A Switcher variant leaves the baselines' configs as they were (so their finished runs
    are kept), reaches the MARTA runs, and reaches a baseline turned into MARTA by --set."""
    (preset,) = select_presets(["table2-tj-vdn"])
    items = [
        "marta.switcher.initial_alpha=2.0",
        "marta.switcher.activation_cost=0.1",  # refused in a baseline's config
        "marta.switcher_onsets=every_step",
        "marta.train_fault.p=0.2",  # a fault field: every run
    ]
    plain = {s.run: s.config for s in plan_runs([preset], "smoke")}
    varied = {s.run: s.config for s in plan_runs([preset], "smoke", overrides=items)}
    faults = dataclasses.replace(plain["baseline"].marta.train_fault, p=0.2)
    marta_section = dataclasses.replace(plain["baseline"].marta, train_fault=faults)
    assert varied["baseline"] == plain["baseline"].replace(marta=marta_section)
    switcher = varied["marta"].marta.switcher
    assert (switcher.initial_alpha, switcher.activation_cost) == (2.0, 0.1)
    assert varied["marta"].marta.switcher_onsets == "every_step"
    assert varied["marta"].marta.train_fault.p == 0.2
    (turned, _) = plan_runs([preset], "smoke", overrides=[*items, "marta.method=marta"])
    assert turned.config.marta.method == "marta"
    assert turned.config.marta.switcher.initial_alpha == 2.0


def test_a_presets_switcher_fields_reach_only_its_marta_runs():
    """Switcher fields in a preset's base or budget stay out of its baselines' configs."""
    data = {
        "name": "base-switcher",
        "experiment": "p_sweep",
        "base": {
            "env_id": "critical-state",
            "learner_name": "iql",
            "marta": {"switcher": {"initial_alpha": 2.0, "activation_cost": 0.1}},
        },
        "runs": [
            {"name": "baseline", "tags": {"method": "baseline"},
             "overrides": {"marta.method": "baseline"}},
            {"name": "marta", "tags": {"method": "marta"}, "overrides": {}},
        ],
    }  # fmt: skip
    baseline, marta_run = plan_runs([preset_from_dict(data, source="test")], "smoke")
    assert baseline.config.marta.method == "baseline"
    assert baseline.config.marta.switcher == SwitcherConfig()  # smoke's buffer sizes too
    switcher = marta_run.config.marta.switcher
    assert (switcher.initial_alpha, switcher.activation_cost) == (2.0, 0.1)
    assert (switcher.batch_size, switcher.buffer_capacity) == (32, 256)  # the smoke budget


@pytest.mark.parametrize(
    ("items", "match"),
    [
        (["learner.lr"], "--set: expected field=value"),
        (["learner.lr=1", "learner.lr=2"], "--set: learner.lr is given more than once"),
        (["learner.nope=1"], "--set, preset mixed, run plain: .*nope"),
        (["marta.switcher.reward_scale=0"], "--set, preset mixed, run marta: .*reward_scale"),
    ],
)
def test_bad_set_overrides_fail_before_any_run_naming_the_field(items, match):
    with pytest.raises(ValueError, match=match):
        plan_runs([preset_from_dict(MIXED, source="test")], "smoke", overrides=items)


def _unlocked(run_dir: Path) -> bool:
    """No process holds the run's lock (a worker that is still running it would)."""
    import fcntl

    with open(run_dir / LOCK_FILE, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(handle, fcntl.LOCK_UN)
        return True


def test_reproduce_killed_with_sigkill_resumes_to_the_numbers_of_an_uninterrupted_run(
    tmp_path, compile_cache
):
    """kill -9 of the `reproduce` process itself: its workers stop by themselves (segment,
    checkpoint, exit), the rerun resumes every run, and each run's metrics equal, value for
    value, those of the same config run without interruption."""
    # 40 short segments: an orphaned worker notices the kill within a second, long before its
    # run could finish (with CHEAP's 10 it sometimes finished first and nothing resumed)
    longer = {**CHEAP, "budgets": {"smoke": {"train.total_env_steps": 16000}}}
    preset = preset_from_dict(longer, source="test")
    specs = plan_runs([preset], "smoke")
    segments = specs[0].config.train.num_segments
    out = tmp_path / "out"
    code = (
        "import json, sys; from marta.reproduce.presets import preset_from_dict; "
        "from marta.reproduce.runs import reproduce; "
        "reproduce([preset_from_dict(json.loads(sys.argv[1]), source='test')], 'smoke', "
        "sys.argv[2], workers=2, cache_dir=sys.argv[3])"
    )
    args = [sys.executable, "-c", code, json.dumps(longer), str(out), str(compile_cache)]
    parent = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoints = [out / spec.key / "checkpoints" for spec in specs]
    deadline = time.monotonic() + 600
    while not any((c / "latest.json").exists() for c in checkpoints):
        assert parent.poll() is None and time.monotonic() < deadline, "no checkpoint"
        time.sleep(0.01)
    parent.kill()
    parent.wait()
    held = [
        read_checkpoint_info(c).segments_done if (c / "latest.json").exists() else 0
        for c in checkpoints
    ]
    assert min(held) < segments, "every run had finished before the kill"
    deadline = time.monotonic() + 120  # a worker stops within a second plus one segment
    while not all(_unlocked(out / spec.key) for spec in specs if (out / spec.key).exists()):
        assert time.monotonic() < deadline, "an orphaned worker kept running"
        time.sleep(0.1)

    rerun = reproduce([preset], "smoke", out, workers=2, cache_dir=compile_cache)
    assert rerun.failed == () and rerun.done == 2
    assert any("state: resume" in (out / s.key / LOG_FILE).read_text() for s in specs)
    for spec in specs:
        _assert_complete(out / spec.key, spec.config.num_seeds, segments)
        reference = run_experiment(spec.config, tmp_path / "ref" / spec.run, progress="none")
        for k in range(spec.config.num_seeds):
            ours, theirs = (
                [{**r, "wall_time_s": 0} for r in read_jsonl(d / f"seed_{k}" / "metrics.jsonl")]
                for d in (out / spec.key, reference)
            )
            assert ours == theirs


@pytest.mark.filterwarnings("ignore:os.fork:RuntimeWarning")  # ray.init starts its processes
def test_ray_backend_retries_a_killed_worker_without_losing_or_duplicating(tmp_path, compile_cache):
    pytest.importorskip("ray")
    preset = preset_from_dict({**CHEAP, "runs": CHEAP["runs"][:1]}, source="test")
    (spec,) = plan_runs([preset], "smoke")
    segments = spec.config.train.num_segments
    out = tmp_path / "out"
    thread, result = _in_thread(
        reproduce, presets=[preset], budget="smoke", out=out, backend="ray", workers=2,
        max_retries=2, cache_dir=compile_cache,
    )  # fmt: skip
    _kill_after_first_checkpoint(out / spec.key, segments, thread)
    summary = _joined(thread, result)
    assert (summary.done, summary.failed) == (1, ())
    log = (out / spec.key / LOG_FILE).read_text()
    assert log.count(": pid ") == 2  # the killed attempt and its retry
    assert "state: resume" in log
    _assert_complete(out / spec.key, spec.config.num_seeds, segments)
    assert read_status(out)["runs"][spec.key]["status"] == "done"


@pytest.mark.slow
def test_smoke_preset_end_to_end_with_the_report(tmp_path, capsys):
    """``marta reproduce --only table2-lbf-qmix --budget smoke``: both runs, then the report;
    a second invocation skips them (about 2-4 minutes on 2 cores: MARTA compiles slowly)."""
    out = tmp_path / "out"
    args = ["reproduce", "--only", PRESET, "--budget", "smoke", "--out", str(out)]
    assert main(args) == 0
    assert "2/2 runs done (0 skipped)" in capsys.readouterr().out
    for spec in plan_runs([load_preset(PRESET)], "smoke"):
        _assert_complete(out / spec.key, spec.config.num_seeds, spec.config.train.num_segments)
    assert main(args) == 0
    assert "2/2 runs done (2 skipped)" in capsys.readouterr().out
    try:
        import marta.reproduce.report  # noqa: F401
    except ImportError:
        return
    assert (out / "report.md").exists()


def test_local_workers_reuse_the_first_cores(monkeypatch):
    """With fewer workers than cores, runs go to the first `workers` cores, one after another
    on the same core (so `taskset -c N marta reproduce --workers 1` keeps them all on N)."""
    from marta.reproduce import local

    monkeypatch.setattr(local, "available_cores", lambda: [0, 1])
    cores, results = [], []
    payloads = [{"preset": "none", "run": str(k)} for k in range(2)]  # fail fast in the worker
    local.run_local(
        payloads,
        workers=1,
        on_start=lambda payload, core: cores.append(core),
        on_result=lambda payload, result: results.append(result["status"]),
    )
    assert cores == [0, 0]
    assert results == ["failed", "failed"]
