"""The paper's experiments as presets: YAML files of runs, resolved into `ExperimentConfig`s.

How to read this file: a preset (``marta/reproduce/presets/<name>.yaml``, listed by
``marta presets``) names one experiment of the paper (Table 2's rows, Figures 2-5, the MARTA-B
budget sweep) as a partial config ``base`` shared by its ``runs``, each run adding its own
``overrides`` (dotted config fields) and ``tags`` (what the report groups by: ``method`` and
the swept value). A compute budget (``smoke``, ``demo``, ``quick``, ``fast``, ``paper``) adds
the overrides of ``budgets.yaml`` for the preset's environment family (the env id's prefix:
``lbf``, ``tj``, ``mpe``), then the preset's own ``budgets`` section. Resolving a run
layers, lowest first::

    ExperimentConfig defaults < base < budget overrides < the run's overrides

then multiplies the fields of the budget's ``scale`` section (``fast``: the learning rate
x2.5, whatever lr the preset or run sets), and validates the result
(`marta.experiments.config.ExperimentConfig.from_dict`), so a bad preset fails before
anything is compiled. The YAML schema is in docs/reproduce.md.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, get_args

import yaml

from marta.core.marta import SWITCHER_FIELDS, MartaConfig
from marta.experiments.config import ExperimentConfig, merge, read_yaml
from marta.validation import require

Budget = Literal["smoke", "demo", "quick", "fast", "paper"]
Experiment = Literal[
    "table2", "cost_sweep", "case", "p_sweep", "heatmap", "team_size", "budget_sweep"
]
#: the budgets, cheapest first
BUDGETS: tuple[str, ...] = get_args(Budget)
#: the experiments, in the paper's order
EXPERIMENTS: tuple[str, ...] = get_args(Experiment)
PRESETS_DIR = Path(__file__).parent / "presets"
BUDGETS_FILE = Path(__file__).parent / "budgets.yaml"
#: a run's tags: ``method`` always, plus the swept value's key where the experiment has one
TAG_TYPES: dict[str, type] = {
    "method": str,
    "cost": float,
    "p": float,
    "case": int,
    "n_agents": int,
    "budget": int,
}
#: Table 1's order of environment families and base learners (sorts the presets)
_FAMILY_ORDER = ("tj", "lbf", "mpe")
_LEARNER_ORDER = ("iql", "vdn", "qmix", "maddpg")
_PRESET_KEYS = ("name", "experiment", "description", "paper_row", "base", "budgets", "runs")
_RUN_KEYS = ("name", "tags", "overrides")


@dataclasses.dataclass(frozen=True, kw_only=True)
class PresetRun:
    """One run of a preset: its directory name, report tags and config overrides."""

    name: str
    """directory name under the preset (``OUT/<preset>/<name>``)"""
    tags: Mapping[str, Any]
    """what the report groups and plots by: ``method`` (baseline|marta) and the swept value"""
    overrides: Mapping[str, Any]
    """dotted config fields -> values, applied last"""


@dataclasses.dataclass(frozen=True, kw_only=True)
class Preset:
    """One experiment of the paper: a base config, per-budget overrides and its runs."""

    name: str
    """the preset's name (its file stem)"""
    experiment: Experiment
    """which table/figure it reproduces"""
    description: str
    """one line for ``marta presets`` and the report"""
    paper_row: Mapping[str, str] | None
    """table2: the row keys ``{env, base}`` of the paper's Table 2, else None"""
    base: Mapping[str, Any]
    """a partial `ExperimentConfig` in config.yaml layout, shared by the runs"""
    budgets: Mapping[str, Mapping[str, Any]]
    """budget -> dotted config fields -> values (budgets.yaml's family defaults merged in)"""
    scales: Mapping[str, Mapping[str, float]]
    """budget -> dotted float fields -> factors applied after every layer (budgets.yaml's
    ``scale``; only budgets that have one)"""
    runs: tuple[PresetRun, ...]
    """the runs, in order"""

    @property
    def family(self) -> str:
        """The environment family of `base.env_id` (its prefix before the first '-')."""
        return str(self.base["env_id"]).split("-")[0]

    def to_dict(self, budget: str | None = None) -> dict[str, Any]:
        """YAML-ready data; with `budget`, as resolved for it (adds ``budget: B`` and the
        budget's ``scale`` factors, if any)."""
        data: dict[str, Any] = {
            "name": self.name,
            "experiment": self.experiment,
            "description": self.description,
        }
        if self.paper_row is not None:
            data["paper_row"] = dict(self.paper_row)
        if budget is not None:
            data["budget"] = budget
        data["base"] = _plain(self.base)
        data["budgets"] = _plain(self.budgets)
        if budget in self.scales:
            data["scale"] = _plain(self.scales[budget])
        data["runs"] = [
            {"name": r.name, "tags": dict(r.tags), "overrides": _plain(r.overrides)}
            for r in self.runs
        ]
        return data

    def to_yaml(self, budget: str | None = None) -> str:
        """The preset as YAML text (see `to_dict`)."""
        return yaml.safe_dump(self.to_dict(budget), sort_keys=False, default_flow_style=None)


# ------------------------------------------------------------------------------ loading
def preset_dir(given: str | Path | None) -> Path:
    """The presets' directory: `given` (``--presets DIR``), else the packaged `PRESETS_DIR`.

    Raises:
        ValueError: `given` is not a directory holding at least one ``.yaml`` file.
    """
    if given is None:
        return PRESETS_DIR
    directory = Path(given).expanduser()
    require(
        directory.is_dir() and any(directory.glob("*.yaml")),
        "--presets",
        "a directory with preset files (NAME.yaml)",
        str(given),
    )
    return directory


def preset_names(directory: Path = PRESETS_DIR) -> list[str]:
    """Names of the presets in `directory`, in the paper's order."""
    return [preset.name for preset in load_presets(directory)]


def load_presets(directory: Path = PRESETS_DIR) -> list[Preset]:
    """Every preset in `directory`, in the paper's order (experiments, then Table 1's order
    of environments and learners)."""
    presets = [load_preset(path.stem, directory) for path in directory.glob("*.yaml")]
    return sorted(presets, key=_order)


def load_preset(name: str, directory: Path = PRESETS_DIR) -> Preset:
    """Loads and checks one preset file.

    Raises:
        ValueError: unknown name (the message lists the valid ones) or an invalid file.
    """
    path = directory / f"{name}.yaml"
    if not path.is_file():
        valid = preset_names(directory)
        close = difflib.get_close_matches(name, valid, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"unknown preset {name!r}{hint}; valid presets: {', '.join(valid)}")
    return preset_from_dict(read_yaml(path), source=str(path), name=name)


def select_presets(names: Sequence[str], directory: Path = PRESETS_DIR) -> list[Preset]:
    """The presets named by `names` (preset names or experiment kinds), in the paper's order.

    An experiment kind (``table2``, ``p_sweep``, ...) selects all of its presets; no names
    selects every preset.

    Raises:
        ValueError: a name that is neither (the message lists the valid ones).
    """
    presets = load_presets(directory)
    if not names:
        return presets
    by_name = {p.name: p for p in presets}
    chosen: set[str] = set()
    for name in names:
        if name in by_name:
            chosen.add(name)
        elif name in EXPERIMENTS:
            chosen.update(p.name for p in presets if p.experiment == name)
        else:
            valid = list(by_name)
            close = difflib.get_close_matches(name, valid + list(EXPERIMENTS), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(
                f"unknown preset {name!r}{hint}; valid presets: {', '.join(valid)}; "
                f"or an experiment kind: {', '.join(EXPERIMENTS)}"
            )
    return [p for p in presets if p.name in chosen]


def preset_from_dict(data: Any, *, source: str, name: str | None = None) -> Preset:
    """Builds a `Preset` from YAML data, merging budgets.yaml's family defaults.

    Args:
        data: the parsed YAML mapping.
        source: where it came from (for error messages).
        name: the expected name (the file stem), if any.

    Raises:
        ValueError: a missing or unknown key, a wrong type, a name that is not the file stem,
            an unknown experiment, budget or tag, duplicate run names.
    """
    where = f"preset {source}"
    require(isinstance(data, Mapping), where, "a mapping", data)
    _keys(data, _PRESET_KEYS, where, required=("name", "experiment", "base", "runs"))
    require(isinstance(data["name"], str) and data["name"], f"{where}: name", "a string", None)
    if name is not None:
        require(data["name"] == name, f"{where}: name", f"the file stem {name!r}", data["name"])
    experiment = data["experiment"]
    require(experiment in EXPERIMENTS, f"{where}: experiment", _one_of(EXPERIMENTS), experiment)
    base = data["base"]
    require(
        isinstance(base, Mapping) and "env_id" in base,
        f"{where}: base",
        "a mapping with env_id",
        base,
    )
    paper_row = data.get("paper_row")
    if experiment == "table2":
        ok = paper_row is None or (
            isinstance(paper_row, Mapping) and set(paper_row) == {"env", "base"}
        )
        require(
            ok,
            f"{where}: paper_row",
            "absent or a mapping {env, base} (the paper's Table 2 row) for table2",
            paper_row,
        )
    else:
        require(paper_row is None, f"{where}: paper_row", "absent (table2 only)", paper_row)
    family = str(base["env_id"]).split("-")[0]
    defaults = read_yaml(BUDGETS_FILE)
    budgets = _budgets(defaults, data.get("budgets") or {}, family, where)
    runs = data["runs"]
    require(isinstance(runs, list) and runs, f"{where}: runs", "a non-empty list", runs)
    parsed = tuple(_run(run, f"{where}: runs[{i}]") for i, run in enumerate(runs))
    names = [r.name for r in parsed]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    require(not duplicates, f"{where}: runs", "uniquely named", duplicates)
    return Preset(
        name=data["name"],
        experiment=experiment,
        description=str(data.get("description", "")),
        paper_row=dict(paper_row) if paper_row is not None else None,
        base=dict(base),
        budgets=budgets,
        scales=_scales(defaults),
        runs=parsed,
    )


def _run(data: Any, where: str) -> PresetRun:
    require(isinstance(data, Mapping), where, "a mapping {name, tags, overrides}", data)
    _keys(data, _RUN_KEYS, where, required=("name", "tags"))
    name = data["name"]
    ok = isinstance(name, str) and name and "/" not in name and not name.startswith(".")
    require(ok, f"{where}.name", "a directory name", name)
    tags = data["tags"]
    require(
        isinstance(tags, Mapping) and "method" in tags,
        f"{where}.tags",
        "a mapping with method",
        tags,
    )
    for key, value in tags.items():
        require(key in TAG_TYPES, f"{where}.tags", f"keys among {', '.join(TAG_TYPES)}", key)
        kind = TAG_TYPES[key]
        ok = isinstance(value, kind) or (kind is float and isinstance(value, int))
        require(
            ok and not isinstance(value, bool), f"{where}.tags.{key}", f"a {kind.__name__}", value
        )
    require(
        tags["method"] in ("baseline", "marta"),
        f"{where}.tags.method",
        "baseline or marta",
        tags["method"],
    )
    overrides = data.get("overrides") or {}
    require(
        isinstance(overrides, Mapping),
        f"{where}.overrides",
        "a mapping of dotted fields",
        overrides,
    )
    tags = {k: float(v) if TAG_TYPES[k] is float else v for k, v in tags.items()}
    return PresetRun(name=name, tags=tags, overrides=dict(overrides))


def _budgets(
    defaults: Mapping[str, Any], own: Any, family: str, where: str
) -> dict[str, dict[str, Any]]:
    """The ``all`` and `family` overrides of `defaults` (budgets.yaml), then the preset's own,
    per budget."""
    require(isinstance(own, Mapping), f"{where}: budgets", "a mapping of budgets", own)
    for budget in own:
        require(budget in BUDGETS, f"{where}: budgets", f"keys among {', '.join(BUDGETS)}", budget)
    out = {}
    for budget in BUDGETS:
        layers = defaults.get(budget) or {}
        merged = {**(layers.get("all") or {}), **(layers.get(family) or {})}
        given = own.get(budget) or {}
        require(isinstance(given, Mapping), f"{where}: budgets.{budget}", "a mapping", given)
        out[budget] = {**merged, **given}
    return out


def _scales(defaults: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """The ``scale`` sections of `defaults` (budgets.yaml): budget -> dotted field -> factor."""
    out = {}
    for budget, layers in defaults.items():
        scale = (layers or {}).get("scale")
        if scale is None:
            continue
        where = f"{BUDGETS_FILE.name}: {budget}.scale"
        require(isinstance(scale, Mapping), where, "a mapping of dotted fields", scale)
        for key, factor in scale.items():
            ok = isinstance(factor, int | float) and not isinstance(factor, bool) and factor > 0
            require(ok, f"{where}.{key}", "a positive number", factor)
        out[budget] = {str(k): float(v) for k, v in scale.items()}
    return out


# ------------------------------------------------------------------------------ resolving
def resolve_config(preset: Preset, run: PresetRun, budget: str) -> ExperimentConfig:
    """The validated config of `run` under `budget`: defaults < base < budget < run, then the
    budget's ``scale`` factors.

    A budget's ``marta.*`` fields (e.g. the Switcher's buffer size) are left out of a run
    without a ``marta`` section, so they never turn plain training into MARTA; and no layer's
    Switcher fields (`SWITCHER_FIELDS`) reach a baseline run, which has no Switcher, so a
    preset can set them in its base for its MARTA runs alone. A scaled field
    must be a float of the config (``learner.lr``); the product is rounded to 12 significant
    digits, so that 0.0005 x 2.5 reads 0.00125.

    Raises:
        ValueError: unknown budget, or an invalid field or value (prefixed with the run).
    """
    require(budget in BUDGETS, "--budget", _one_of(BUDGETS), budget)
    run_part = nest(run.overrides)
    has_marta = "marta" in preset.base or "marta" in run_part
    budget_part = nest(
        {k: v for k, v in preset.budgets[budget].items() if has_marta or k.split(".")[0] != "marta"}
    )
    merged = merge(merge(preset.base, budget_part), run_part)
    if not has_switcher(merged):
        merged = without_switcher(merged)
    try:
        config = ExperimentConfig.from_dict(merged)
        scale = preset.scales.get(budget)
        return ExperimentConfig.from_dict(_scaled(config.to_dict(), scale)) if scale else config
    except ValueError as err:
        raise ValueError(f"preset {preset.name}, run {run.name}, budget {budget}: {err}") from None


def has_switcher(part: Mapping[str, Any]) -> bool:
    """Whether a (merged, nested) config layer makes a MARTA run: a ``marta`` section whose
    method, or `MartaConfig`'s default where it sets none, is "marta"."""
    faults = part.get("marta")
    return isinstance(faults, Mapping) and faults.get("method", MartaConfig().method) == "marta"


def without_switcher(part: Mapping[str, Any]) -> dict[str, Any]:
    """A nested config layer without the Switcher's fields (`SWITCHER_FIELDS`)."""
    faults = part.get("marta")
    if not isinstance(faults, Mapping):
        return dict(part)
    return {**part, "marta": {k: v for k, v in faults.items() if k not in SWITCHER_FIELDS}}


def _scaled(data: dict[str, Any], scale: Mapping[str, float]) -> dict[str, Any]:
    """`data` (a config's `to_dict`) with its dotted float fields multiplied, in place."""
    for key, factor in scale.items():
        *path, leaf = key.split(".")
        node: Any = data
        for part in path:
            node = node.get(part) if isinstance(node, Mapping) else None
        if node is None and path[:1] == ["marta"]:
            continue  # no marta section: as for the budget's marta.* overrides
        value = node.get(leaf) if isinstance(node, Mapping) else None
        require(isinstance(value, float), f"scale.{key}", "a float field of the config", value)
        node[leaf] = float(f"{value * factor:.12g}")
    return data


def nest(dotted: Mapping[str, Any]) -> dict[str, Any]:
    """``{"a.b": 1, "a.c": 2}`` -> ``{"a": {"b": 1, "c": 2}}`` (mapping values merge in)."""
    out: dict[str, Any] = {}
    for key, value in dotted.items():
        parts = str(key).split(".")
        node = {parts[-1]: value}
        for part in reversed(parts[:-1]):
            node = {part: node}
        out = merge(out, node)
    return out


# ------------------------------------------------------------------------------ helpers
def _order(preset: Preset) -> tuple[int, int, int, str]:
    """Experiments in the paper's order; within one, Table 1's order of envs and learners."""
    family = _FAMILY_ORDER.index(preset.family) if preset.family in _FAMILY_ORDER else 99
    learner = str(preset.base.get("learner_name"))
    rank = _LEARNER_ORDER.index(learner) if learner in _LEARNER_ORDER else 99
    return EXPERIMENTS.index(preset.experiment), family, rank, preset.name


def _keys(
    data: Mapping[str, Any], allowed: Sequence[str], where: str, required: Sequence[str]
) -> None:
    for key in data:
        require(key in allowed, where, f"keys among {', '.join(allowed)}", key)
    for key in required:
        require(key in data, where, f"a value for {key!r}", "nothing")


def _one_of(options: Sequence[str]) -> str:
    return "one of " + ", ".join(options)


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


__all__ = [
    "BUDGETS",
    "EXPERIMENTS",
    "Preset",
    "PresetRun",
    "load_preset",
    "load_presets",
    "nest",
    "preset_names",
    "resolve_config",
    "select_presets",
]
