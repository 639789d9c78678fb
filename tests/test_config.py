"""ExperimentConfig: typed parsing of YAML and field=value overrides, validation messages,
YAML round trips, and property tests that any invalid override list is a clean ValueError."""

from __future__ import annotations

import dataclasses
import keyword
import string

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marta.core.train import TrainConfig
from marta.envs import ENVS
from marta.experiments.config import (
    ExperimentConfig,
    build_config,
    config_differences,
    dump_config,
    load_config,
    parse_overrides,
    read_yaml,
    save_config,
)
from marta.learners import LEARNERS, ValueLearnerConfig

BASE = {"env_id": "matrix-climbing", "learner_name": "qmix"}
TINY = {
    "train.num_envs": "1",
    "train.rollout_steps": "1",
    "train.eval_interval": "1",
    "train.total_env_steps": "10",
}


def config(*items: str, base=BASE, tiny=True) -> ExperimentConfig:
    keys = {i.partition("=")[0] for i in items}
    extra = [f"{k}={v}" for k, v in TINY.items() if tiny and k not in keys]
    return build_config(base, [*extra, *items])


def error_of(*items: str, base=BASE) -> str:
    with pytest.raises(ValueError) as err:
        config(*items, base=base)
    return str(err.value)


# ------------------------------------------------------------------------------ parsing
def test_overrides_are_converted_to_the_declared_field_types():
    c = config(
        "learner.lr=3e-4",
        "train.total_env_steps=2e5",
        "train.eval_interval=1_000",
        "learner.double_q=false",
        "learner.target_update=polyak",
        "num_seeds=3",
        "seed=7",
        "env.max_steps=4",
        "env.payoff=[[1, 0], [0, 2]]",
        "out_dir=none",
        "check_finite=no",
    )
    assert c.learner.lr == 3e-4 and isinstance(c.learner.lr, float)
    assert c.train.total_env_steps == 200_000 and isinstance(c.train.total_env_steps, int)
    assert c.train.eval_interval == 1000
    assert c.learner.double_q is False and c.check_finite is False
    assert c.learner.target_update == "polyak"
    assert (c.num_seeds, c.seed, c.out_dir) == (3, 7, None)
    assert c.env_kwargs == {"max_steps": 4, "payoff": ((1, 0), (0, 2))}
    assert c.train.num_segments == 200


def test_defaults_fill_every_field_and_env_is_resolved():
    c = config()
    assert c.learner == ValueLearnerConfig()
    assert c.env_kwargs == {"max_steps": 10, "payoff": ENVS["matrix-climbing"].defaults["payoff"]}
    assert (c.num_seeds, c.seed, c.checkpoint_every, c.check_finite) == (1, 0, 1, True)
    assert c.keep_final_buffers is False


def test_yaml_round_trip_keeps_every_field(tmp_path):
    c = config("learner.lr=1e-3", "env.max_steps=3", "num_seeds=2", "out_dir=runs/x")
    path = tmp_path / "config.yaml"
    save_config(c, path)
    data = yaml.safe_load(path.read_text())
    assert set(data) == {f.name for f in dataclasses.fields(ExperimentConfig)}
    assert set(data["learner"]) == {f.name for f in dataclasses.fields(ValueLearnerConfig)}
    assert set(data["train"]) == {f.name for f in dataclasses.fields(TrainConfig)}
    loaded = load_config(path)
    assert loaded == c and hash(loaded) == hash(c)
    assert dump_config(loaded) == dump_config(c)


def test_config_yaml_names_the_marta_jax_and_jaxlib_versions_that_wrote_it(tmp_path):
    """Same config and seed give the same numbers only under the same JAX version, so a run's
    config.yaml records it; the comment does not change what the file loads as."""
    import importlib.metadata

    import marta

    c = config("num_seeds=2")
    save_config(c, tmp_path / "config.yaml")
    first = (tmp_path / "config.yaml").read_text().splitlines()[0]
    jax, jaxlib = (importlib.metadata.version(p) for p in ("jax", "jaxlib"))
    assert first == (
        f"# marta {marta.__version__} (jax {jax}, jaxlib {jaxlib}): "
        "resolved experiment config (every field)"
    )
    assert load_config(tmp_path / "config.yaml") == c


def test_config_differences_name_dotted_fields_and_ignore_the_location():
    a = config("out_dir=a")
    b = config("out_dir=b", "learner.lr=1e-3", "env.max_steps=3")
    assert config_differences(a, b) == ["env.max_steps", "learner.lr"]
    assert config_differences(a, config("out_dir=elsewhere")) == []


def test_yaml_base_and_overrides_merge(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("env_id: matrix-penalty\nlearner_name: vdn\nlearner: {lr: 0.01, gamma: 0.9}\n")
    c = build_config(read_yaml(path), [*(f"{k}={v}" for k, v in TINY.items()), "learner.lr=0.5"])
    assert (c.env_id, c.learner_name, c.learner.lr, c.learner.gamma) == (
        "matrix-penalty",
        "vdn",
        0.5,
        0.9,
    )


# ------------------------------------------------------------------------------ errors
@pytest.mark.parametrize(
    "item, message",
    [
        ("learner.lrr=1", "unknown config field 'learner.lrr' (did you mean 'learner.lr'?)"),
        ("trian.num_envs=2", "unknown config field 'trian' (did you mean 'train'?)"),
        ("env.max_step=3", "unknown config field 'env.max_step' (did you mean 'env.max_steps'?)"),
        ("learner.lr=abc", "learner.lr must be a number, got 'abc'"),
        ("learner.lr=nan", "learner.lr must be a finite number"),
        ("learner.lr=-1", "ValueLearnerConfig.lr must be > 0"),
        ("train.eval_episodes=1.5", "train.eval_episodes must be an integer, got 1.5"),
        ("learner.double_q=maybe", "learner.double_q must be true or false"),
        ("keep_final_buffers=2", "keep_final_buffers must be true or false"),
        ("learner.target_update=soft", "learner.target_update must be one of 'hard', 'polyak'"),
        ("num_seeds=0", "num_seeds must be an integer >= 1, got 0"),
        ("seed=-1", "seed must be an integer >= 0"),
        ("seed=4294967296", "seed must be < 2**32"),
        ("env.max_steps=0", "env: max_steps must be >= 1"),
        ("learner_name=qmx", "unknown learner 'qmx' (did you mean 'qmix'?)"),
        ("env_id=matrix-climbng", "unknown environment id 'matrix-climbng' (did you mean"),
        ("train=3", "train=... conflicts with train.<field>=..."),
        ("learner=3", "learner must be a mapping of fields"),
        ("learner.lr", "expected field=value, got 'learner.lr'"),
        ("learner..lr=1", "invalid field name 'learner..lr'"),
        ("train.eval_interval=7", "TrainConfig.total_env_steps must be a multiple of"),
    ],
)
def test_invalid_values_give_one_line_errors_naming_the_field(item, message):
    text = error_of(item)
    assert message in text
    assert "\n" not in text


def test_cross_field_and_missing_checks():
    text = error_of("train.eval_interval=20", "train.total_env_steps=10")
    assert "eval_interval" in text or "total_env_steps" in text
    assert "missing required field 'env_id'" in error_of(base={"learner_name": "iql"})
    assert "missing required field 'learner_name'" in error_of(base={"env_id": "matrix-climbing"})
    with pytest.raises(ValueError, match="given more than once"):
        parse_overrides(["seed=1", "seed=2"])
    with pytest.raises(ValueError, match="seed.x conflicts with seed"):
        parse_overrides(["seed=1", "seed.x=2"])


def test_bad_yaml_files(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("env_id: [unclosed\nlearner: x\n")
    with pytest.raises(ValueError, match=r"invalid YAML in .*bad.yaml.* line"):
        read_yaml(bad)
    listing = tmp_path / "list.yaml"
    listing.write_text("- a\n- b\n")
    with pytest.raises(ValueError, match="must hold a mapping"):
        read_yaml(listing)
    with pytest.raises(ValueError, match="cannot read config file"):
        read_yaml(tmp_path / "missing.yaml")
    with pytest.raises(ValueError, match="unknown config field 'lerner'"):
        ExperimentConfig.from_dict({**BASE, "lerner": {}})
    with pytest.raises(ValueError, match="learner.lr must be a number, got 'fast'"):
        ExperimentConfig.from_dict({**BASE, "learner": {"lr": "fast"}})


# ------------------------------------------------------------------------------ properties
identifiers = st.text(string.ascii_lowercase + "_", min_size=1, max_size=12).filter(
    lambda s: not keyword.iskeyword(s)
)
TOP_FIELDS = {f.name for f in dataclasses.fields(ExperimentConfig)}
LEARNER_FIELDS = {f.name for f in dataclasses.fields(ValueLearnerConfig)}

# valid values: field -> strategy of (text, expected parsed value)
VALID = {
    "learner.lr": st.floats(1e-6, 1.0).map(lambda x: (f"{x:e}", float(f"{x:e}"))),
    "learner.gamma": st.floats(0.0, 1.0).map(lambda x: (repr(x), x)),
    "learner.hidden_dim": st.integers(1, 512).map(lambda n: (str(n), n)),
    "learner.double_q": st.sampled_from(
        [("true", True), ("False", False), ("yes", True), ("0", False)]
    ),
    "learner.target_update": st.sampled_from([("hard", "hard"), ("polyak", "polyak")]),
    "train.eval_episodes": st.integers(1, 1000).map(lambda n: (str(n), n)),
    "train.total_env_steps": st.integers(1, 10**6).map(lambda n: (f"{n:_}", n)),
    "env.max_steps": st.integers(1, 100).map(lambda n: (str(n), n)),
    "num_seeds": st.integers(1, 64).map(lambda n: (str(n), n)),
    "seed": st.integers(0, 2**32 - 1).map(lambda n: (str(n), n)),
    "checkpoint_every": st.integers(1, 50).map(lambda n: (str(n), n)),
    "keep_final_buffers": st.sampled_from([("true", True), ("no", False)]),
    # the learner.* fields above are ValueLearnerConfig's, so only its learners are drawn
    "learner_name": st.sampled_from(
        sorted(n for n, e in LEARNERS.items() if e.config_cls is ValueLearnerConfig)
    ).map(lambda n: (n, n)),
}


def _get(c: ExperimentConfig, path: str):
    head, _, rest = path.partition(".")
    if head == "env":
        return c.env_kwargs[rest]
    value = getattr(c, head)
    return getattr(value, rest) if rest else value


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(st.sampled_from(sorted(VALID)), st.just(None), max_size=6).flatmap(
        lambda d: st.fixed_dictionaries({k: VALID[k] for k in d})
    )
)
def test_random_valid_overrides_are_accepted_with_their_values(chosen):
    c = config(*(f"{path}={text}" for path, (text, _) in chosen.items()))
    for path, (_, expected) in chosen.items():
        assert _get(c, path) == expected


junk = st.sampled_from(["abc", "1.5", "", "[1, 2]", "{a: 1}", "1e400", "nan", "-", "0x", "[["])
INVALID = st.one_of(
    identifiers.filter(lambda s: s not in TOP_FIELDS).map(lambda s: f"{s}=1"),
    identifiers.filter(lambda s: s not in LEARNER_FIELDS).map(lambda s: f"learner.{s}=1"),
    identifiers.map(lambda s: f"train.{s}_x=1"),
    junk.map(lambda v: f"train.eval_episodes={v}"),
    junk.filter(lambda v: v != "1.5").map(lambda v: f"learner.lr={v}"),  # lr=1.5 is valid
    st.integers(-100, 0).map(lambda n: f"num_seeds={n}"),
    st.integers(-100, 0).map(lambda n: f"env.max_steps={n}"),
    st.floats(-10, 0).map(lambda x: f"learner.lr={x}"),
    st.floats(1.001, 10).map(lambda x: f"learner.gamma={x}"),
    identifiers.filter(lambda s: s not in ("hard", "polyak")).map(
        lambda s: f"learner.target_update={s}"
    ),
    identifiers.filter(lambda s: s not in ("yes", "no", "on", "off", "true", "false")).map(
        lambda s: f"learner.double_q={s}"
    ),
    identifiers.map(lambda s: f"learner.{s}"),  # no '='
    st.sampled_from(["a..b=1", ".x=1", "1a=2", "=3", "learner.=1", "x-y=1"]),
    identifiers.filter(lambda s: s not in ENVS).map(lambda s: f"env_id={s}"),
    identifiers.filter(lambda s: s not in LEARNERS).map(lambda s: f"learner_name={s}"),
    st.sampled_from(["train=5", "env=7", "learner=[1]", "env.payoff=[[1, 2], [3]]"]),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    valid=st.lists(st.sampled_from(["learner.gamma=0.5", "num_seeds=2", "seed=3"]), unique=True),
    invalid=st.lists(INVALID, min_size=1, max_size=3),
    data=st.data(),
)
def test_random_invalid_override_lists_give_a_clean_value_error(valid, invalid, data):
    items = list(valid)
    for item in invalid:
        items.insert(data.draw(st.integers(0, len(items))), item)
    with pytest.raises(ValueError) as err:
        config(*items)
    text = str(err.value)
    assert text and "\n" not in text


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(max_size=20), max_size=4))
def test_arbitrary_text_never_raises_anything_but_value_error(items):
    try:
        c = config(*items)
    except ValueError as err:
        assert "\n" not in str(err)
    else:
        assert isinstance(c, ExperimentConfig)
