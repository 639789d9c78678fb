"""Plugins (docs/extending.md): a user's module registers an environment, a mixer with its
learner and a fault policy, and the command line then takes those names like built-in ones.

The example plugin `examples/corridor_plugin.py` is loaded through ``marta --plugin``, and
`marta reproduce` runs the example preset `examples/presets/corridor-sluggish.yaml` (its
learner on its environment under its fault policy, baseline and MARTA) in worker processes
to the corridor's optimal return; its environment passes the environment contract tests; the
registries, `register` checks and load errors are tested on their own.
Every test restores the registries, so no plugin name leaks into other tests.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import jax
import numpy as np
import pytest
import test_env_api  # tests/: the contract every registered environment honours

import marta.envs
import marta.faults
import marta.learners
import marta.plugins
from marta.cli import main
from marta.experiments.compile_cache import resolve_cache_dir
from marta.faults import FaultConfig

EXAMPLES = Path(__file__).parents[1] / "examples"
EXAMPLE = str(EXAMPLES / "corridor_plugin.py")
PRESETS = EXAMPLES / "presets"


@pytest.fixture(autouse=True)
def registries():
    """Every registry and the list of loaded plugins as they were before the test."""
    tables = (
        marta.envs.ENVS,
        marta.learners.LEARNERS,
        marta.learners.MIXERS,
        marta.faults.FAULT_POLICIES,
    )
    saved = [dict(table) for table in tables]
    loaded = list(marta.plugins._LOADED)
    yield
    for table, before in zip(tables, saved, strict=True):
        table.clear()
        table.update(before)
    marta.plugins._LOADED[:] = loaded


def test_the_example_preset_runs_marta_on_the_plugins_names_in_worker_processes(tmp_path):
    """`marta --plugin ... reproduce --presets examples/presets`: the workers load the plugin,
    both runs learn the corridor under its fault policy, the report has the row."""
    out = tmp_path / "corridor"
    argv = ["--plugin", EXAMPLE, "reproduce", "--presets", str(PRESETS), "--budget", "quick"]
    argv += ["--out", str(out), "--workers", "2", "--compile-cache", str(resolve_cache_dir())]
    assert main(argv) == 0
    random_return = random_corridor_return(episodes=200)
    assert random_return < -15.0  # random agents rarely all reach the end in 20 steps
    for run in ("baseline", "marta"):
        run_dir = out / "corridor-sluggish" / run
        scorecard = json.loads((run_dir / "scorecard.json").read_text())["returns"]
        # the corridor's best return: 5 steps to the end, the first 4 cost 1 each
        assert scorecard["no_fault"]["per_seed"] == pytest.approx([-4.0, -4.0])
        assert scorecard["worst_case"]["mean"] > random_return + 10.0
        config = (run_dir / "config.yaml").read_text()
        assert "policy: sluggish" in config and "learner_name: wvdn" in config
    report = (out / "report.md").read_text()
    assert "| corridor-3 (`corridor-sluggish`) | MARTA-WVDN | done | 2 |" in report
    assert "| corridor-3 (`corridor-sluggish`) | WVDN | done | 2 |" in report
    assert "paper's Table 2" not in report  # a row of one's own: no paper numbers, no note


def random_corridor_return(episodes: int) -> float:
    """Mean return of uniformly random agents: the first episode of each of `episodes`
    environments, which the time limit ends within `max_steps` (`marta.envs.episode_stats`
    would also count the rare second, short episode)."""
    env = marta.envs.make("corridor-3")
    out = marta.envs.rollout(
        env, marta.envs.random_policy, jax.random.key(0), episodes, env.max_steps, False
    )
    first = np.argmax(np.asarray(out.done), axis=0)
    assert np.asarray(out.done).any(axis=0).all()
    return float(np.mean(np.asarray(out.episode_return)[first, np.arange(episodes)]))


#: the contract tests of tests/test_env_api.py that take an environment
ENV_CONTRACT = [
    check
    for name, check in vars(test_env_api).items()
    if name.startswith("test_") and "env" in inspect.signature(check).parameters
]


@pytest.mark.parametrize("check", ENV_CONTRACT, ids=lambda check: check.__name__[5:])
def test_the_example_env_honours_the_contract_of_every_environment(check):
    marta.plugins.load_plugins([EXAMPLE])
    check(marta.envs.make("corridor-3"))


def test_a_plugin_by_module_name_loads_once(tmp_path, monkeypatch):
    (tmp_path / "my_faults.py").write_text(
        "import marta.faults\n"
        "LOADS = getattr(marta.faults, 'LOADS', 0) + 1\n"
        "marta.faults.LOADS = LOADS\n"
        "marta.faults.register('frozen', lambda key, avail, config: avail[..., 0] * 0, 'x')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(marta.faults, "LOADS", 0, raising=False)
    assert marta.plugins.load_plugins(["my_faults", "my_faults"]) == ["my_faults", "my_faults"]
    marta.plugins.load_plugins(["my_faults"])
    assert marta.faults.LOADS == 1
    assert FaultConfig(policy="frozen").policy == "frozen"
    assert "my_faults" in marta.plugins.loaded_plugins()


def test_plugin_goes_before_or_after_the_command(capsys):
    assert main(["envs", "--plugin", EXAMPLE]) == 0
    assert "corridor-3" in capsys.readouterr().out


def test_marta_plugins_variable_loads_plugins_for_every_command(monkeypatch, capsys):
    monkeypatch.setenv(marta.plugins.ENV_VAR, f" {EXAMPLE} ,")
    assert marta.plugins.plugins_from_env() == [EXAMPLE]
    assert main(["envs"]) == 0
    assert "corridor-3" in capsys.readouterr().out


def test_a_plugin_that_fails_is_named_in_the_error(tmp_path, capsys):
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('no GPU here')\n")
    assert main(["--plugin", str(broken), "envs"]) == 2
    err = capsys.readouterr().err
    assert "plugin" in err and "broken.py" in err and "RuntimeError: no GPU here" in err
    assert main(["--plugin", "no_such_plugin_module", "envs"]) == 2
    assert "'no_such_plugin_module' could not be loaded: ModuleNotFoundError" in (
        capsys.readouterr().err
    )
    assert not any("broken" in p for p in marta.plugins.loaded_plugins())


def test_unknown_names_point_at_plugins(capsys):
    argv = ["train", "--env", "corridor-3", "--learner", "vdn", "--out", "x"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "unknown environment id 'corridor-3'" in err and "--plugin" in err
    with pytest.raises(ValueError, match="^policy must .*'sluggish'.*valid: .*stuck.*--plugin"):
        FaultConfig(policy="sluggish")


def test_register_refuses_duplicates_and_inconsistent_learners():
    with pytest.raises(ValueError, match="learner 'vdn' is already registered"):
        marta.learners.register("vdn", mixer="sum")
    unknown_mixer = r"unknown mixer 'nope' \(did you mean 'none'\?\); valid: none, qmix, sum"
    with pytest.raises(ValueError, match=unknown_mixer):
        marta.learners.register("mine", mixer="nope")
    with pytest.raises(ValueError, match="exactly one of mixer= and build="):
        marta.learners.register("mine")
    with pytest.raises(ValueError, match="mixer 'sum' is already registered"):
        marta.learners.register_mixer("sum", marta.learners.MIXERS["sum"])
    with pytest.raises(ValueError, match="must be a flax.linen.Module class"):
        marta.learners.register_mixer("mine", lambda q, s: q)
    with pytest.raises(ValueError, match="fault policy 'uniform' is already registered"):
        marta.faults.register("uniform", None, "")
    with pytest.raises(ValueError, match="environment id 'tj-4' is already registered"):
        marta.envs.register("tj-4", marta.envs.ENVS["tj-4"].builder)


def test_a_presets_directory_without_presets_is_refused(tmp_path, capsys):
    assert main(["presets", "--presets", str(tmp_path)]) == 2
    assert "--presets must be a directory with preset files (NAME.yaml)" in capsys.readouterr().err
    argv = ["reproduce", "--presets", str(tmp_path / "none"), "--budget", "smoke", "--out", "x"]
    assert main(argv) == 2
    assert "--presets must be a directory" in capsys.readouterr().err
    # without the plugin, the example preset's names are unknown, at config time
    argv = ["presets", "--presets", str(PRESETS), "--budget", "quick"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "preset corridor-sluggish, run baseline, budget quick: unknown learner 'wvdn'" in err
    assert "--plugin" in err
