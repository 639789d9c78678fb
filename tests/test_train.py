"""End-to-end tests of the compiled trainer (`marta.core.train`)."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import marta.envs
from marta.core import TrainConfig, make_train, seed_keys
from marta.envs.rollout import episode_stats, random_policy, rollout
from marta.learners import LEARNERS, ValueLearnerConfig, make_learner
from marta.learners.trim import vmap_seeds

REQUIRED_METRICS = {
    "env_steps",
    "eval_return_mean",
    "eval_return_std",
    "train_return_mean",
    "loss",
    "epsilon",
    "updates",
    "episodes",
}

TINY_TRAIN = TrainConfig(
    total_env_steps=400,
    num_envs=4,
    rollout_steps=5,
    learning_starts=40,
    eval_interval=200,
    eval_episodes=4,
)
TINY_LEARNER = ValueLearnerConfig(
    batch_size=8, buffer_size=32, hidden_dim=16, mixer_embed_dim=8, hypernet_embed_dim=16
)


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("num_envs", 0, "num_envs"),
        ("eval_interval", 1000, "eval_interval"),  # not a multiple of 16 * 5 = 80
        ("total_env_steps", 8080, "total_env_steps"),  # not a multiple of eval_interval
        ("eval_episodes", 0, "eval_episodes"),
    ],
)
def test_train_config_validation(field, value, match):
    kwargs = {"num_envs": 16, "rollout_steps": 5, "eval_interval": 8000, "total_env_steps": 16000}
    with pytest.raises(ValueError, match=match):
        TrainConfig(**{**kwargs, field: value})


def test_train_config_derived_sizes():
    cfg = TrainConfig()
    assert cfg.num_segments * cfg.eval_interval == cfg.total_env_steps
    assert cfg.iterations_per_segment * cfg.num_envs * cfg.rollout_steps == cfg.eval_interval


@pytest.fixture(scope="module")
def tiny():
    """A tiny QMIX trainer on the climbing game and its vmapped, jitted entry points."""
    env = marta.envs.make("matrix-climbing")
    trainer = make_train(TINY_TRAIN, env, make_learner("qmix", TINY_LEARNER, env.spec))
    traces = []

    def counted_segment(state):
        traces.append(1)  # runs only while tracing
        return trainer.segment(state)

    init = jax.jit(jax.vmap(trainer.init))
    segment = jax.jit(vmap_seeds(counted_segment))
    keys = jnp.concatenate([seed_keys(0, 2), seed_keys(0, 1)])  # seeds a, b, a again
    state = init(keys)
    state, first = segment(state)
    state, second = segment(state)
    return {
        "trainer": trainer,
        "segment": segment,
        "keys": keys,
        "metrics": (jax.device_get(first), jax.device_get(second)),
        "state": state,
        "traces": traces,
    }


def test_segment_metrics_and_counters(tiny):
    first, second = tiny["metrics"]
    assert set(first) >= REQUIRED_METRICS
    for value in first.values():
        assert value.shape == (3,)  # one scalar per seed
    np.testing.assert_array_equal(first["env_steps"], [200] * 3)
    np.testing.assert_array_equal(second["env_steps"], [400] * 3)
    # climbing game episodes are 10 steps: 4 envs x 5 steps x 10 iterations = 20 episodes
    np.testing.assert_array_equal(first["episodes"], [20] * 3)
    # 10 iterations of 5 steps per env, 1 update each; the buffer holds batch_size = 8
    # episodes after 20 steps per env (iteration 4), so iterations 4..10 update
    np.testing.assert_array_equal(first["updates"], [7] * 3)
    np.testing.assert_array_equal(second["updates"], [17] * 3)
    assert tiny["trainer"].num_segments == 2
    buffer = tiny["state"].buffer
    np.testing.assert_array_equal(buffer.size, [32] * 3)
    assert bool(buffer.data.filled.all())  # every stored climbing episode lasts 10 steps
    assert not bool(buffer.data.terminated.any())  # ... and ends by the time limit


def test_same_key_same_metrics_different_keys_differ(tiny):
    for metrics in tiny["metrics"]:
        for name, value in metrics.items():
            np.testing.assert_array_equal(value[0], value[2], err_msg=name)
    second = tiny["metrics"][1]
    assert second["loss"][0] != second["loss"][1]


def test_a_non_finite_parameter_shows_in_params_abs_max(tiny):
    """The runner checks metrics only; `params_abs_max` carries the parameters into them."""
    first, _ = tiny["metrics"]
    assert np.isfinite(first["params_abs_max"]).all() and (first["params_abs_max"] > 0).all()
    state = tiny["state"]
    leaves, tree = jax.tree.flatten(state.learner.params)
    poisoned = jax.tree.unflatten(tree, [leaves[0].at[1].set(jnp.nan), *leaves[1:]])  # seed b
    state = state.replace(learner=state.learner.replace(params=poisoned))
    traced = len(tiny["traces"])
    _, metrics = tiny["segment"](state)
    assert len(tiny["traces"]) == traced  # the same compiled program
    values = jax.device_get(metrics["params_abs_max"])
    assert np.isfinite(values[[0, 2]]).all() and np.isnan(values[1])


@pytest.mark.parametrize("name", sorted(set(LEARNERS) - {"qmix"}))
def test_every_learner_is_deterministic_per_seed(name):
    """Seeds a, b, a vmapped in one program: a equals a in every metric, b differs (QMIX:
    `test_same_key_same_metrics_different_keys_differ`, on the `tiny` trainer)."""
    env = marta.envs.make("matrix-climbing")
    config = LEARNERS[name].config_cls(batch_size=4, buffer_size=16, hidden_dim=8)
    trainer = make_train(TINY_TRAIN, env, make_learner(name, config, env.spec))
    keys = jnp.concatenate([seed_keys(0, 2), seed_keys(0, 1)])
    state = jax.jit(jax.vmap(trainer.init))(keys)
    _, metrics = jax.jit(vmap_seeds(trainer.segment))(state)
    for metric, value in jax.device_get(metrics).items():
        np.testing.assert_array_equal(value[0], value[2], err_msg=metric)
    assert metrics["loss"][0] != metrics["loss"][1]


def test_no_recompilation_on_the_second_segment(tiny):
    assert len(tiny["traces"]) == 1


def test_vmap_over_seeds_equals_a_loop_over_seeds(tiny):
    trainer = tiny["trainer"]
    init, segment = jax.jit(trainer.init), jax.jit(trainer.segment)
    vmapped = tiny["metrics"][0]
    for i in range(2):
        _, looped = segment(init(tiny["keys"][i]))
        for name, value in jax.device_get(looped).items():
            np.testing.assert_allclose(value, vmapped[name][i], rtol=1e-4, atol=1e-5, err_msg=name)


# ----------------------------------------------------------------------------- learning
CLIMBING_TRAIN = TrainConfig(
    total_env_steps=9_600,
    num_envs=16,
    rollout_steps=5,
    learning_starts=800,
    eval_interval=4_800,
    eval_episodes=16,
)
CLIMBING_LEARNER = ValueLearnerConfig(
    buffer_size=500, epsilon_anneal_steps=4_000, target_update_interval=50, hidden_dim=32
)


VALUE_LEARNERS = sorted(n for n, e in LEARNERS.items() if e.config_cls is ValueLearnerConfig)


@pytest.mark.parametrize("name", VALUE_LEARNERS)
def test_learns_the_climbing_game(name):
    """Greedy return beats the uniform-random policy by a wide margin (2 seeds, vmapped).

    Random play averages -31/9 per round (-34 per episode); the safe equilibrium (5 per
    round) gives 50 and the optimum (11 per round) 110.
    """
    env = marta.envs.make("matrix-climbing")
    random_return = episode_stats(rollout(env, random_policy, jax.random.key(0), 64, 100))
    trainer = make_train(CLIMBING_TRAIN, env, make_learner(name, CLIMBING_LEARNER, env.spec))
    segment = jax.jit(vmap_seeds(trainer.segment))
    state = jax.jit(jax.vmap(trainer.init))(seed_keys(1, 2))
    for _ in range(trainer.num_segments):
        state, metrics = segment(state)
    learned = np.asarray(metrics["eval_return_mean"])
    assert random_return["return_mean"] < -25.0
    assert np.all(learned >= random_return["return_mean"] + 70.0), learned


# ----------------------------------------------------------------------------- LBF targets
LBF_TRAIN = TrainConfig(total_env_steps=500_000, eval_interval=50_000, eval_episodes=100)


#: issue 4's speed setting (docs/learners.md, "Update ratio and throughput"): one update per
#: 400 env steps per seed instead of 80, with a larger learning rate; 20x EPyMARL's QMIX
LBF_FAST = (
    dataclasses.replace(LBF_TRAIN, num_envs=80, eval_interval=10_000),
    ValueLearnerConfig(lr=1e-3),
)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "target", "configs"),
    [
        ("qmix", 0.95, (LBF_TRAIN, ValueLearnerConfig())),
        ("vdn", 0.95, (LBF_TRAIN, ValueLearnerConfig())),
        ("iql", 0.90, (LBF_TRAIN, ValueLearnerConfig())),
        ("qmix", 0.95, LBF_FAST),
    ],
    ids=["qmix", "vdn", "iql", "qmix-fast"],
)
def test_lbf_5x5_4p_1f_reaches_the_target_return(name, target, configs):
    """With the learner's defaults (EPyMARL's, and LBF's input scaling: docs/learners.md),
    and QMIX with the fast setting, each of 3 seeds (vmapped) reaches the target greedy
    return at some evaluation within 500k env steps; random play returns about 0.48."""
    train_config, learner_config = configs
    env = marta.envs.make("lbf-5x5-4p-1f")
    trainer = make_train(train_config, env, make_learner(name, learner_config, env.spec))
    segment = jax.jit(vmap_seeds(trainer.segment))
    state = jax.jit(jax.vmap(trainer.init))(seed_keys(0, 3))
    curves = []  # [evaluation][seed]
    for _ in range(trainer.num_segments):
        state, metrics = segment(state)
        curves.append(np.asarray(metrics["eval_return_mean"]).round(3).tolist())
    print(name, curves)
    assert (np.max(curves, axis=0) >= target).all(), curves
