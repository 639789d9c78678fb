"""`ExperimentConfig`: everything that defines one training run, typed, validated, in YAML.

How to read this file: `ExperimentConfig` composes the environment id and its fields, the
learner name and its config dataclass (`marta.learners.config.ValueLearnerConfig` for
IQL/VDN/QMIX), the `marta.core.train.TrainConfig`, the seeds, and the runner's own options.
Input from YAML files and from ``field=value`` command-line overrides is parsed once, here,
into these dataclasses (`ExperimentConfig.from_dict`, `build_config`, `load_config`); below
this module nothing sees a dict.

Every value is converted to the type its dataclass field declares (``learner.lr=3e-4`` gives a
float, ``train.total_env_steps=2e5`` the integer 200000, ``learner.double_q=false`` a bool,
``learner.target_update=polyak`` is checked against its ``Literal``), unknown fields are
refused with a "did you mean" suggestion, and the component configs then validate themselves
in their ``__post_init__``. Any bad input raises `ValueError` with a one-line message naming
the field, before anything is compiled.

YAML layout (``DIR/config.yaml`` holds every field, resolved)::

    env_id: matrix-climbing
    env: {max_steps: 10, payoff: [[11.0, -30.0, 0.0], ...]}
    learner_name: qmix
    learner: {lr: 0.0005, gamma: 0.99, ...}
    train: {total_env_steps: 200000, num_envs: 8, eval_interval: 10000, ...}
    num_seeds: 3
    seed: 0
    checkpoint_every: 1
    keep_final_buffers: false
    plot_every: 10
    check_finite: true
    out_dir: runs/climbing-qmix
"""

from __future__ import annotations

import dataclasses
import enum
import importlib.metadata
import math
import re
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml

import marta
from marta.experiments.io import atomic_write_text
from marta.validation import did_you_mean

if TYPE_CHECKING:
    from marta.core.train import TrainConfig

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}
_NONE = {"none", "null", "~", ""}
#: fields that say where a run is written, not what it computes (ignored when comparing runs)
LOCATION_FIELDS = ("out_dir",)


class _Text(str):
    """A raw command-line value: parsed according to its field's type once that is known."""


# ------------------------------------------------------------------------- the config
@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class ExperimentConfig:
    """One training run: environment, learner, training schedule, seeds and runner options."""

    env_id: str
    """registered environment id (see `marta envs`); --env on the command line"""
    env: Mapping[str, Any] | tuple[tuple[str, Any], ...] = ()
    """environment fields overriding the id's defaults; normalised to every field, resolved,
    as a sorted tuple of (field, value) pairs (a mapping in YAML)"""
    learner_name: str
    """learner registry name (iql, vdn, qmix, maddpg); --learner on the command line"""
    learner: Any = None
    """the learner's config dataclass (None: its defaults)"""
    train: TrainConfig
    """training schedule (`marta.core.train.TrainConfig`)"""
    marta: Any = None
    """fault injection: a `marta.core.marta.MartaConfig` (method baseline or marta, train and
    eval faults, switcher, adversary); None = plain training without faults. In YAML or
    overrides, a given ``marta.eval_fault`` section starts from ``marta.train_fault``'s
    values (Case 2 = the fields that differ)"""
    num_seeds: int = 1
    """seeds trained at once (vmapped in one compiled program); --seeds"""
    seed: int = 0
    """base seed; seed k of the run uses key k of `seed_keys(seed, num_seeds)`; --seed"""
    checkpoint_every: int = 1
    """segments (evaluation intervals) between checkpoints; the last segment is always saved"""
    keep_final_buffers: bool = False
    """keep the replay buffers in the last checkpoint of a finished run (false: they are
    left out, most of its size; evaluating the finished run does not need them)"""
    plot_every: int = 10
    """segments between refreshes of curves.png (it is always written at the end)"""
    check_finite: bool = True
    """stop the run when any metric is NaN or infinite"""
    out_dir: str | None = None
    """run directory used when none is given to `run_experiment` / --out"""

    def __post_init__(self) -> None:
        from marta.core.train import TrainConfig

        _require(isinstance(self.env_id, str), "env_id", "a string", self.env_id)
        _require(isinstance(self.learner_name, str), "learner_name", "a string", self.learner_name)
        object.__setattr__(self, "env", _resolve_env(self.env_id, self.env))
        learner_cls = learner_config_class(self.learner_name)
        if self.learner is None:
            object.__setattr__(self, "learner", learner_cls())
        _require(
            isinstance(self.learner, learner_cls),
            "learner",
            f"a {learner_cls.__name__} for learner {self.learner_name!r}",
            type(self.learner).__name__,
        )
        _require(isinstance(self.train, TrainConfig), "train", "a TrainConfig", self.train)
        _check_marta(self)
        for name, low in (
            ("num_seeds", 1),
            ("seed", 0),
            ("checkpoint_every", 1),
            ("plot_every", 1),
        ):
            value = getattr(self, name)
            ok = isinstance(value, int) and not isinstance(value, bool) and value >= low
            _require(ok, name, f"an integer >= {low}", value)
        _require(self.seed < 2**32, "seed", "< 2**32", self.seed)
        for name in ("keep_final_buffers", "check_finite"):
            _require(isinstance(getattr(self, name), bool), name, "true or false", None)
        _require(self.out_dir is None or isinstance(self.out_dir, str), "out_dir", "a path", None)
        total = self.train.total_env_steps
        _require(total > 0, "train.total_env_steps", "> 0", total)
        interval = getattr(self.train, "eval_interval", total)
        _require(
            interval <= total,
            "train.eval_interval",
            f"<= train.total_env_steps ({total})",
            interval,
        )

    # ------------------------------------------------------------------ views
    @property
    def env_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``marta.envs.make(env_id, **env_kwargs)``."""
        return dict(self.env)

    def to_dict(self) -> dict[str, Any]:
        """Every field as plain YAML/JSON data (mappings, lists, scalars)."""
        out: dict[str, Any] = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            out[field.name] = _plain(dict(value) if field.name == "env" else value)
        return out

    def replace(self, **changes: Any) -> ExperimentConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------------------ parsing
    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExperimentConfig:
        """Builds a config from YAML-like data, converting and checking every value.

        Values may be native (from YAML) or raw command-line text (from `parse_overrides`).
        Missing sections and fields take their defaults.

        Raises:
            ValueError: unknown or missing fields, values of the wrong type, values the
                component configs reject.
        """
        from marta.core.train import TrainConfig

        if not isinstance(data, Mapping):
            raise ValueError(f"a config must be a mapping of fields, got {_short(data)}")
        fields = {f.name: f for f in dataclasses.fields(cls)}
        _check_keys(data, fields, prefix="")
        for name in ("env_id", "learner_name"):
            if name not in data:
                flag = {"env_id": "--env", "learner_name": "--learner"}[name]
                raise ValueError(f"missing required field {name!r} ({flag} on the command line)")
        hints = typing.get_type_hints(cls, localns={"TrainConfig": TrainConfig})
        kwargs: dict[str, Any] = {}
        for name, value in data.items():
            if name == "env":
                kwargs[name] = _as_mapping(_parse_text(value, dict, "env"), "env")
            elif name not in ("learner", "train", "marta"):
                kwargs[name] = _coerce(value, hints[name], name)
        kwargs["learner"] = build_dataclass(
            learner_config_class(kwargs["learner_name"]), data.get("learner") or {}, "learner"
        )
        kwargs["train"] = build_dataclass(TrainConfig, data.get("train") or {}, "train")
        if data.get("marta") is not None:
            kwargs["marta"] = build_marta_config(data["marta"])
        return _construct(cls, kwargs, "config")


def build_marta_config(data: Any) -> Any:
    """`MartaConfig` from a mapping; a partial ``eval_fault`` is completed from ``train_fault``.

    So ``marta.eval_fault.policy=uniform`` alone means "evaluate like training, but with
    uniform faults" (Case 2, shifted), and no ``eval_fault`` means Case 1 (aligned).
    """
    from marta.core.marta import MartaConfig
    from marta.faults import FaultConfig

    if isinstance(data, MartaConfig):
        return data
    data = _as_mapping(_parse_text(data, dict, "marta"), "marta")
    shifted = data.get("eval_fault")
    if isinstance(shifted, _Text) and str(shifted).strip().lower() in _NONE:
        shifted = None
    if shifted is not None and not dataclasses.is_dataclass(shifted):
        shifted = _as_mapping(_parse_text(shifted, dict, "marta.eval_fault"), "marta.eval_fault")
        train = data.get("train_fault")
        default = _plain(_dataclass_defaults(MartaConfig)["train_fault"])
        if dataclasses.is_dataclass(train):
            base = _plain(train)
        else:
            given = _as_mapping(_parse_text(train, dict, "marta.train_fault"), "marta.train_fault")
            base = merge(default, given)
        eval_fault = build_dataclass(FaultConfig, merge(base, shifted), "marta.eval_fault")
        data = {**data, "eval_fault": eval_fault}
    return build_dataclass(MartaConfig, data, "marta")


def _check_marta(config: ExperimentConfig) -> None:
    """Checks `config.marta`'s type and its fault configs against the environment's sizes."""
    if config.marta is None:
        return
    from marta.core.marta import MartaConfig

    _require(isinstance(config.marta, MartaConfig), "marta", "a MartaConfig or null", config.marta)
    import marta.envs

    env = marta.envs.make(config.env_id, **config.env_kwargs)
    for name in ("train_fault", "eval_fault"):
        fault = getattr(config.marta, name)
        if fault is not None:
            try:
                fault.validate_for(env.num_agents, env.num_actions)
            except ValueError as err:
                raise ValueError(f"marta.{name}.{_one_line(str(err))}") from None


def _require(ok: bool, field: str, allowed: str, value: Any) -> None:
    if not ok:
        raise ValueError(f"{field} must be {allowed}, got {_short(value)}")


def learner_config_class(name: str) -> type:
    """The config dataclass of a registered learner.

    Raises:
        ValueError: `name` is not registered (the message lists the valid names).
    """
    from marta.learners import get_entry

    return get_entry(name).config_cls


def _resolve_env(env_id: str, overrides: Any) -> tuple[tuple[str, Any], ...]:
    """Every field of the environment (config defaults < id defaults < overrides), checked."""
    from marta.envs.registry import get_entry

    entry = get_entry(env_id)
    overrides = _as_mapping(overrides, "env")
    config_cls = getattr(entry.builder, "Config", None)
    if config_cls is None or not dataclasses.is_dataclass(config_cls):
        merged = {**entry.defaults, **overrides}  # the builder checks these when it runs
        return tuple(sorted((k, _plain_frozen(_parse_text(v, Any, k))) for k, v in merged.items()))
    fields = {f.name: f for f in dataclasses.fields(config_cls) if f.init}
    _check_keys(overrides, fields, prefix="env.")
    merged = {**_dataclass_defaults(config_cls), **entry.defaults, **overrides}
    built = build_dataclass(config_cls, merged, "env")
    return tuple(sorted((name, _plain_frozen(getattr(built, name))) for name in fields))


# ------------------------------------------------------------------ generic dataclass input
def build_dataclass(cls: type, data: Any, path: str) -> Any:
    """Builds dataclass `cls` from a mapping, converting each value to its field's type.

    Args:
        cls: a dataclass type.
        data: an instance of `cls` (returned as is) or a mapping of field names to values
            (native or raw command-line text).
        path: dotted name of this section, used in error messages ("learner").

    Raises:
        ValueError: unknown or missing fields, or values of the wrong type or range.
    """
    if isinstance(data, cls):
        return data
    data = _as_mapping(_parse_text(data, dict, path), path)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    _check_keys(data, fields, prefix=f"{path}.")
    hints = _type_hints(cls)
    kwargs = {k: _coerce(v, hints.get(k, Any), f"{path}.{k}") for k, v in data.items()}
    missing = [
        name
        for name, f in fields.items()
        if name not in kwargs
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ValueError(f"missing required field {path}.{missing[0]}")
    return _construct(cls, kwargs, path)


def _construct(cls: type, kwargs: dict[str, Any], path: str) -> Any:
    """Calls `cls(**kwargs)`, turning stray non-ValueError failures into ValueError."""
    try:
        return cls(**kwargs)
    except ValueError as err:
        prefix = "" if path == "config" else f"{path}: "
        raise ValueError(prefix + _one_line(str(err))) from None
    except (TypeError, ArithmeticError) as err:
        raise ValueError(f"invalid {path}: {_one_line(str(err))}") from None


def _type_hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls)
    except Exception:  # unresolvable annotations: accept any value for those fields
        return {}


def _dataclass_defaults(cls: type) -> dict[str, Any]:
    out = {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
    return out


def _check_keys(data: Mapping[str, Any], valid: Mapping[str, Any], prefix: str) -> None:
    for key in data:
        if not isinstance(key, str):
            raise ValueError(f"config keys must be strings, got {_short(key)} in {prefix!r}")
        if key not in valid:
            names = sorted(valid)
            full = [prefix + n for n in names]
            raise ValueError(
                f"unknown config field {prefix + key!r}{did_you_mean(prefix + key, full)}; "
                f"valid fields{' of ' + prefix[:-1] if prefix else ''}: {', '.join(names)}"
            )


# ------------------------------------------------------------------ value conversion
def _coerce(value: Any, tp: Any, path: str) -> Any:
    """Converts `value` to type `tp` or raises ValueError naming `path` and the type."""
    value = _parse_text(value, tp, path)
    origin = typing.get_origin(tp)
    if tp is Any or tp is object:
        return _plain_frozen(value)
    if origin in (typing.Union, types.UnionType):
        arms = typing.get_args(tp)
        if value is None and type(None) in arms:
            return None
        for arm in arms:
            if arm is type(None):
                continue
            try:
                return _coerce(value, arm, path)
            except ValueError:
                pass
        raise _type_error(path, tp, value)
    if origin is Literal:
        for option in typing.get_args(tp):
            if type(option) is type(value) and option == value:
                return option
        raise _type_error(path, tp, value)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        for member in tp:
            if value in (member, member.name, member.value):
                return member
        raise _type_error(path, tp, value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise _type_error(path, tp, value)
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise _type_error(path, tp, value)
    if tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise ValueError(f"{path} must be a finite number, got {value!r}")
            return float(value)
        raise _type_error(path, tp, value)
    if tp is str:
        if isinstance(value, str):
            return str(value)
        raise _type_error(path, tp, value)
    if tp is tuple or origin is tuple:
        if not isinstance(value, list | tuple):
            raise _type_error(path, tp, value)
        args = typing.get_args(tp)
        if not args:
            return _plain_frozen(value)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], f"{path}[{i}]") for i, v in enumerate(value))
        if len(args) != len(value):
            raise ValueError(f"{path} must have {len(args)} entries, got {len(value)}")
        return tuple(
            _coerce(v, a, f"{path}[{i}]") for i, (v, a) in enumerate(zip(value, args, strict=True))
        )
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return build_dataclass(tp, value, path)
    if isinstance(tp, type) and not isinstance(value, tp):
        raise _type_error(path, tp, value)
    return value


def _parse_text(value: Any, tp: Any, path: str) -> Any:
    """Turns raw command-line text into a native value for type `tp`; other values pass."""
    if not isinstance(value, _Text):
        return value
    text = str(value).strip()
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        arms = typing.get_args(tp)
        if type(None) in arms and text.lower() in _NONE:
            return None
        real = [a for a in arms if a is not type(None)]
        return _parse_text(value, real[0], path) if len(real) == 1 else _yaml_value(text, path)
    if tp is str or (origin is Literal and all(isinstance(a, str) for a in typing.get_args(tp))):
        return text
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return text
    if tp is bool:
        if text.lower() in _TRUE | _FALSE:
            return text.lower() in _TRUE
        raise _type_error(path, tp, text)
    if tp in (int, float):
        try:
            number = float(text.replace("_", "")) if tp is float else _int_text(text)
        except ValueError:
            raise _type_error(path, tp, text) from None
        return number
    return _yaml_value(text, path)


def _int_text(text: str) -> int | float:
    try:
        return int(text.replace("_", ""))
    except ValueError:
        return float(text.replace("_", ""))  # "2e5": accepted if integral, checked by caller


def _yaml_value(text: str, path: str) -> Any:
    try:
        return yaml.safe_load(text) if text else None
    except yaml.YAMLError as err:
        problem = getattr(err, "problem", None) or type(err).__name__
        raise ValueError(f"{path}: cannot parse {text!r} ({problem})") from None


def _type_error(path: str, tp: Any, value: Any) -> ValueError:
    return ValueError(f"{path} must be {_type_name(tp)}, got {_short(value)}")


def _type_name(tp: Any) -> str:
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
    if tp in names:
        return names[tp]
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if tp is type(None):
        return "null"
    if tp is tuple or origin is tuple:
        return "a list"
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return "one of " + ", ".join(repr(m.name) for m in tp)
    return getattr(tp, "__name__", str(tp))


def _as_mapping(value: Any, path: str) -> dict[str, Any]:
    if value is None or value == ():
        return {}
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, tuple) and all(isinstance(p, tuple) and len(p) == 2 for p in value):
        return dict(value)
    raise ValueError(
        f"{path} must be a mapping of fields (set them as {path}.<field>=value), got "
        f"{_short(value)}"
    )


def _plain_frozen(value: Any) -> Any:
    """Lists become tuples (recursively) so configs stay hashable."""
    if isinstance(value, list | tuple):
        return tuple(_plain_frozen(v) for v in value)
    if isinstance(value, _Text):
        return str(value)
    return value


def _plain(value: Any) -> Any:
    """YAML/JSON-ready data: dataclasses become dicts, tuples lists, enums their values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, enum.Enum):
        return _plain(value.value)
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:  # numpy scalars
        return value.item()
    return value


def _short(value: Any) -> str:
    text = repr(value)
    return _one_line(text if len(text) <= 60 else text[:57] + "...")


def _one_line(text: str) -> str:
    return " ".join(text.split())


# ------------------------------------------------------------------ overrides, YAML
def parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    """Parses ``field=value`` strings with dotted paths into a nested mapping.

    Values stay raw text until `ExperimentConfig.from_dict` knows the field's type.

    Example:
        ``parse_overrides(["learner.lr=3e-4", "num_seeds=3"])`` gives
        ``{"learner": {"lr": "3e-4"}, "num_seeds": "3"}``.

    Raises:
        ValueError: an item without ``=``, an invalid field name, or a field given twice.
    """
    nested: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep:
            raise ValueError(f"expected field=value, got {_short(item)}")
        parts = key.split(".")
        if not all(_IDENTIFIER.fullmatch(p) for p in parts):
            raise ValueError(
                f"invalid field name {_short(key)} in {_short(item)} (expected dotted names such "
                "as learner.lr)"
            )
        node = nested
        for depth, part in enumerate(parts[:-1]):
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError(f"{key} conflicts with {'.'.join(parts[: depth + 1])}=...")
        if isinstance(node.get(parts[-1]), dict):
            raise ValueError(f"{key}=... conflicts with {key}.<field>=...")
        if parts[-1] in node:
            raise ValueError(f"{key} is given more than once")
        node[parts[-1]] = _Text(value)
    return nested


def merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merges `overrides` into a copy of `base` (mappings merge, other values replace)."""
    out = dict(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def build_config(
    base: Mapping[str, Any] | None = None, overrides: Sequence[str] = ()
) -> ExperimentConfig:
    """`ExperimentConfig` from base data (e.g. a YAML file) plus ``field=value`` overrides."""
    return ExperimentConfig.from_dict(merge(base or {}, parse_overrides(overrides)))


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Reads a YAML mapping (a full or partial config).

    Raises:
        ValueError: unreadable file, invalid YAML (with its line), or not a mapping.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ValueError(f"cannot read config file {str(path)!r}: {err.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or type(err).__name__
        raise ValueError(f"invalid YAML in {str(path)!r}{where}: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"config file {str(path)!r} must hold a mapping, got {_short(data)}")
    return data


def load_config(path: str | Path) -> ExperimentConfig:
    """Loads and validates a full config YAML file (such as a run's ``config.yaml``)."""
    return ExperimentConfig.from_dict(read_yaml(path))


def dump_config(config: ExperimentConfig) -> str:
    """The resolved config as YAML text (every field), under a comment naming the marta, JAX
    and jaxlib versions that wrote it (the same numbers need the same JAX version too)."""
    header = f"# {software_versions()}: resolved experiment config (every field)\n"
    return header + yaml.safe_dump(config.to_dict(), sort_keys=False, default_flow_style=None)


def software_versions() -> str:
    """``marta X (jax Y, jaxlib Z)``: the versions a run's numbers depend on, read from the
    installed packages' metadata (JAX is not imported)."""
    jax_versions = []
    for package in ("jax", "jaxlib"):
        try:
            jax_versions.append(f"{package} {importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            jax_versions.append(f"{package} not installed")
    return f"marta {marta.__version__} ({', '.join(jax_versions)})"


def save_config(config: ExperimentConfig, path: str | Path) -> None:
    """Writes the resolved config as YAML, atomically."""
    atomic_write_text(path, dump_config(config))


def config_differences(a: ExperimentConfig, b: ExperimentConfig) -> list[str]:
    """Dotted names of the fields whose values differ, ignoring `LOCATION_FIELDS`."""
    flat_a, flat_b = _flatten(a.to_dict()), _flatten(b.to_dict())
    keys = sorted(set(flat_a) | set(flat_b))
    return [
        k
        for k in keys
        if k.split(".")[0] not in LOCATION_FIELDS
        and flat_a.get(k, "<unset>") != flat_b.get(k, "<unset>")
    ]


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out = {}
    for key, value in data.items():
        if isinstance(value, Mapping) and value:
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out
