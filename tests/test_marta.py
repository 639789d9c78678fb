"""MARTA and baseline training (`marta.core.marta`): config checks, determinism, budget, p = 0,
the adversary, the scorecard and `marta train --method ...` end to end.

Every trainer here is tiny (critical-state game, 8-step episodes, small networks); each
module fixture compiles one trainer once and runs keys (a, b, a) vmapped, so determinism
(a == a) and seed dependence (a != b) come from the same compiled program.
"""

from __future__ import annotations

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_train import REQUIRED_METRICS

import marta.envs
from marta.cli import main
from marta.core import TrainConfig, seed_keys
from marta.core.marta import (
    MartaConfig,
    _add_masked,
    gate_onsets,
    make_marta_train,
    propose_fault_actions,
)
from marta.envs.critical import CriticalStateGame
from marta.experiments.io import read_jsonl
from marta.faults import FaultConfig
from marta.learners import ValueLearnerConfig, make_learner
from marta.learners.trim import vmap_seeds
from marta.switcher import SwitcherConfig, SwitcherTransition, make_switcher_buffer

MARTA_METRICS = {
    "activation_rate",
    "activations_per_episode",
    "max_activations_in_episode",
    "switcher_entropy",
    "switcher_alpha",
    "adversary_loss",
} | REQUIRED_METRICS
TINY_TRAIN = TrainConfig(
    total_env_steps=256,
    num_envs=4,
    rollout_steps=4,
    learning_starts=32,
    eval_interval=128,
    eval_episodes=4,
)
TINY_LEARNER = ValueLearnerConfig(batch_size=4, buffer_size=16, hidden_dim=8)
TINY_SWITCHER = SwitcherConfig(hidden_sizes=(16,), batch_size=16, buffer_capacity=128)


def run_tiny(marta_config: MartaConfig, keys: jax.Array, segments: int = 2):
    """Compiles the trainer once and runs `segments` segments of every key (vmapped)."""
    env = marta.envs.make("critical-state")
    trainer = make_marta_train(
        TINY_TRAIN, marta_config, env, make_learner("iql", TINY_LEARNER, env.spec)
    )
    init, segment = jax.jit(jax.vmap(trainer.init)), jax.jit(vmap_seeds(trainer.segment))
    state = init(keys)
    history = []
    for _ in range(segments):
        state, metrics = segment(state)
        history.append(jax.device_get(metrics))
    return trainer, state, history


def aba_keys() -> jax.Array:
    return jnp.concatenate([seed_keys(0, 2), seed_keys(0, 1)])


def assert_a_equals_a_not_b(history, differing: str = "train_return_mean") -> None:
    for metrics in history:
        for name, value in metrics.items():
            np.testing.assert_array_equal(value[0], value[2], err_msg=name)
    assert any(m[differing][0] != m[differing][1] for m in history), differing


# ----------------------------------------------------------------------------- config
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"method": "other"}, "method"),
        ({"train_fault": FaultConfig(policy="learned")}, "adversary_learner"),
        ({"eval_fault": FaultConfig(policy="learned")}, "adversary_learner"),
        ({"adversary_learner": "iql"}, "adversary_learner"),
        (
            {"train_fault": FaultConfig(policy="learned"), "adversary_learner": "nope"},
            "adversary_learner",
        ),
        ({"train_fault": FaultConfig(budget=2)}, "use_budget"),
        ({"switcher": SwitcherConfig(use_budget=True)}, "use_budget"),
        ({"method": "baseline", "switcher": SwitcherConfig(activation_cost=0.5)}, "cost"),
        ({"switcher_updates_per_rollout": -1}, "switcher_updates_per_rollout"),
        ({"switcher_onsets": "sometimes"}, "switcher_onsets"),
    ],
)
def test_marta_config_rejects_bad_combinations(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MartaConfig(**kwargs)


def test_marta_config_defaults_and_case_1():
    cfg = MartaConfig(method="baseline", train_fault=FaultConfig(p=0.3, budget=1))
    assert cfg.evaluation_fault == cfg.train_fault  # Case 1: aligned
    shifted = MartaConfig(eval_fault=FaultConfig(policy="stuck"))
    assert shifted.evaluation_fault.policy == "stuck"
    hash(shifted)  # usable as a static jit argument


def test_fault_agent_out_of_range_is_refused_before_compiling():
    env = marta.envs.make("critical-state")
    cfg = MartaConfig(train_fault=FaultConfig(selection="simple", agent=2))
    with pytest.raises(ValueError, match="agent"):
        make_marta_train(TINY_TRAIN, cfg, env, make_learner("iql", TINY_LEARNER, env.spec))


# ----------------------------------------------------------------------------- pieces
def test_worst_case_proposal_is_the_team_argmin_at_low_temperature():
    q = jnp.array([[[1.0, -2.0, 0.5]], [[3.0, 2.0, -1.0]]])  # [E=2, N=1, A=3]
    avail = jnp.ones_like(q, bool)
    f = propose_fault_actions(jax.random.key(0), FaultConfig(policy="worst_case",
                              temperature=1e-3), avail, q, None)  # fmt: skip
    np.testing.assert_array_equal(f, [[1], [2]])
    masked = avail.at[0, 0, 1].set(False)
    f = propose_fault_actions(jax.random.key(0), FaultConfig(policy="worst_case",
                              temperature=1e-3), masked, q, None)  # fmt: skip
    assert int(f[0, 0]) == 2  # the argmin among the *available* actions
    adv = jnp.array([[2], [0]], jnp.int32)
    learned = propose_fault_actions(jax.random.key(0), FaultConfig(policy="learned"),
                                    avail, q, adv)  # fmt: skip
    np.testing.assert_array_equal(learned, adv)


def test_gate_onsets_allows_new_faults_only_at_opportunities():
    mask = jnp.ones((20_000, 3), bool)
    running = jnp.arange(20_000) % 4 == 0
    gated = np.asarray(gate_onsets(jax.random.key(0), mask, running, 0.3))
    assert gated[:, 0].all()  # "no fault" is always allowed
    np.testing.assert_array_equal(gated[np.asarray(running)], True)  # running faults kept
    idle = gated[~np.asarray(running)]
    np.testing.assert_array_equal(idle[:, 1], idle[:, 2])  # one opportunity for all agents
    assert abs(idle[:, 1].mean() - 0.3) < 0.015  # sd 0.0037
    never = np.asarray(gate_onsets(jax.random.key(1), mask, running, 0.0))
    np.testing.assert_array_equal(never[~np.asarray(running), 1:], False)
    forbidden = mask.at[:, 2].set(False)  # the wrapper's own mask is never widened
    assert not np.asarray(gate_onsets(jax.random.key(2), forbidden, running, 1.0))[:, 2].any()


def test_masked_add_keeps_order_and_drops_invalid_rows():
    buffer = make_switcher_buffer(4)
    example = SwitcherTransition(
        features=jnp.zeros((1,)),
        mask=jnp.zeros((2,), bool),
        choice=jnp.int32(0),
        switcher_reward=jnp.float32(0),
        next_features=jnp.zeros((1,)),
        next_mask=jnp.zeros((2,), bool),
        terminated=jnp.bool_(False),
    )
    state = buffer.init(example)
    rows = jax.tree.map(lambda x: jnp.stack([x] * 3), example)
    rows = rows.replace(choice=jnp.array([7, 8, 9], jnp.int32))
    state = _add_masked(state, rows, jnp.array([True, False, True]))
    assert int(state.size) == 2 and int(state.position) == 2
    np.testing.assert_array_equal(state.data.choice[:2], [7, 9])
    state = _add_masked(state, rows, jnp.array([True, True, True]))  # wraps around
    assert int(state.size) == 4 and int(state.position) == 1
    np.testing.assert_array_equal(state.data.choice, [9, 9, 7, 8])


# ----------------------------------------------------------------------------- training
@pytest.fixture(scope="module")
def budgeted():
    """MARTA, worst-case faults lasting Geometric(0.5) steps, budget 2 per episode."""
    cfg = MartaConfig(
        train_fault=FaultConfig(
            policy="worst_case", duration="persistent", terminate_p=0.5, budget=2
        ),
        eval_fault=FaultConfig(policy="uniform", p=0.5),
        switcher=dataclasses.replace(TINY_SWITCHER, use_budget=True, activation_cost=0.1),
        switcher_onsets="every_step",
    )
    return run_tiny(cfg, aba_keys())


def test_marta_metrics_and_determinism_with_budget(budgeted):
    trainer, _, history = budgeted
    assert trainer.num_segments == 2
    assert set(history[0]) >= MARTA_METRICS
    for value in history[0].values():
        assert value.shape == (3,)
    np.testing.assert_array_equal(history[1]["env_steps"], [256] * 3)
    assert_a_equals_a_not_b(history)


def test_activations_per_episode_never_exceed_the_budget(budgeted):
    _, _, history = budgeted
    for metrics in history:
        assert (metrics["max_activations_in_episode"] <= 2).all()
        assert (metrics["activations_per_episode"] <= 2).all()
        # the untrained switcher faults often: the budget is what binds
        assert (metrics["max_activations_in_episode"] == 2).all()
        assert (metrics["activation_rate"] > 0).all()
        # persistent faults last longer than their activation step
        assert (metrics["faulty_step_rate"] > metrics["activation_rate"]).all()
        assert (metrics["switcher_alpha"] > 0).all()
        assert (metrics["eval_activations_per_episode"] > 0).all()


def test_switcher_buffer_holds_every_step_once(budgeted):
    _, state, _ = budgeted
    buffer = state.switcher.buffer
    # 256 steps per seed; the last step of each of the 4 envs waits for x_{t+1} (pending),
    # except where it ended an episode (8-step episodes: 256 / 4 = 64 steps per env, a
    # multiple of 8, so every env's last step ends an episode)
    np.testing.assert_array_equal(buffer.size, [128] * 3)  # capacity-bound
    assert not bool(state.switcher.pending_valid.any())
    choices = np.asarray(buffer.data.choice)
    masks = np.asarray(buffer.data.mask)
    chosen_allowed = np.take_along_axis(masks, choices[..., None], axis=-1)[..., 0]
    assert chosen_allowed.all()  # the switcher only ever stored allowed choices


def test_switcher_reward_scale_only_scales_the_switchers_rewards():
    """k * r_S reaches the Switcher's buffer; before its first update the runs coincide."""
    cfg = MartaConfig(
        train_fault=FaultConfig(policy="worst_case"),
        switcher=dataclasses.replace(TINY_SWITCHER, activation_cost=0.1),
        switcher_onsets="every_step",
        switcher_learning_starts=10_000,
    )
    scaled = dataclasses.replace(cfg, switcher=dataclasses.replace(cfg.switcher, reward_scale=0.5))
    keys = seed_keys(0, 1)
    _, state, history = run_tiny(cfg, keys, segments=1)
    _, state_k, history_k = run_tiny(scaled, keys, segments=1)
    data, data_k = state.switcher.buffer.data, state_k.switcher.buffer.data
    np.testing.assert_array_equal(data_k.choice, data.choice)
    np.testing.assert_allclose(data_k.switcher_reward, 0.5 * data.switcher_reward, rtol=1e-6)
    assert np.abs(np.asarray(data.switcher_reward)).max() > 0
    np.testing.assert_array_equal(
        history_k[0]["train_return_mean"], history[0]["train_return_mean"]
    )


@pytest.fixture(scope="module")
def learned():
    """MARTA without budget, fault actions from a learned IQL adversary; the switcher may
    only start faults at random onset opportunities (p = 0.1, the default)."""
    cfg = MartaConfig(
        train_fault=FaultConfig(policy="learned"),
        switcher=TINY_SWITCHER,
        adversary_learner="iql",
    )
    return run_tiny(cfg, aba_keys())


def test_marta_with_a_learned_adversary(learned):
    _, state, history = learned
    assert_a_equals_a_not_b(history)
    last = history[-1]
    assert (last["adversary_loss"] > 0).all()
    assert (last["activation_rate"] > 0).all()
    # at most one activation per opportunity: Binomial(128, 0.1) / 128 has mean 0.1, sd 0.027
    # (at every step the untrained switcher would fault about 2 steps in 3)
    for metrics in history:
        assert (metrics["activation_rate"] <= 0.1 + 4 * 0.027).all()
    assert (last["switcher_entropy"] > 0).all()
    # the adversary only learns from the steps in which a fault was active
    adv = state.adversary.buffer
    assert (np.asarray(adv.size) > 0).all()
    filled = np.asarray(adv.data.filled)
    team_filled = np.asarray(state.buffer.data.filled)
    assert filled.sum() < team_filled.sum()


@pytest.fixture(scope="module")
def baseline():
    """Baseline: random uniform faults with p = 0.5; evaluation shifted to worst-case."""
    cfg = MartaConfig(
        method="baseline",
        train_fault=FaultConfig(p=0.5),
        eval_fault=FaultConfig(p=0.5, policy="worst_case"),
    )
    return run_tiny(cfg, aba_keys())


def test_baseline_is_deterministic_and_faults_at_rate_p(baseline):
    trainer, state, history = baseline
    assert state.switcher is None and state.adversary is None
    assert_a_equals_a_not_b(history)
    for metrics in history:
        # 128 env steps per segment: a Binomial(128, 0.5) fraction, sd 0.044
        assert (np.abs(metrics["activation_rate"] - 0.5) < 0.2).all()
        np.testing.assert_array_equal(metrics["switcher_alpha"], 0.0)
        np.testing.assert_array_equal(metrics["adversary_loss"], 0.0)
    scores = jax.device_get(jax.jit(jax.vmap(trainer.scorecard))(state))
    assert set(scores) == {"no_fault", "uniform", "worst_case"}
    for returns in scores.values():
        assert returns.shape == (3, TINY_TRAIN.eval_episodes)
    np.testing.assert_array_equal(scores["no_fault"][0], scores["no_fault"][2])


def test_baseline_with_p_zero_injects_no_fault():
    cfg = MartaConfig(method="baseline", train_fault=FaultConfig(p=0.0))
    _, state, history = run_tiny(cfg, seed_keys(3, 2), segments=1)
    metrics = history[0]
    for name in ("activation_rate", "faulty_step_rate", "activations_per_episode",
                 "max_activations_in_episode", "eval_activations_per_episode"):  # fmt: skip
        np.testing.assert_array_equal(metrics[name], 0.0, err_msg=name)
    np.testing.assert_array_equal(state.env_state.fault.total_activations, 0)


# ----------------------------------------------------------------------------- CLI
TINY_CLI = [
    "--env", "critical-state", "--learner", "iql", "--steps", "64", "--num-envs", "2",
    "--eval-interval", "32", "--eval-episodes", "2", "train.rollout_steps=4",
    "train.learning_starts=16", "learner.batch_size=2", "learner.buffer_size=8",
    "learner.hidden_dim=8", "marta.switcher.batch_size=4", "marta.switcher.buffer_capacity=32",
    "marta.switcher.hidden_sizes=[8]",
]  # fmt: skip


def test_cli_marta_train_writes_metrics_and_scorecard(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "--progress", "none", *TINY_CLI, "--method", "marta",
                 "--fault-policy", "worst_case", "--fault-p", "0.3", "--cost", "0.1",
                 "--budget", "2", "--eval-fault-policy", "uniform", "--seeds", "2",
                 "--out", str(out)])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    records = read_jsonl(out / "seed_1" / "metrics.jsonl")
    assert [r["env_steps"] for r in records] == [32, 64]
    assert set(records[0]) >= MARTA_METRICS
    assert all(r["max_activations_in_episode"] <= 2 for r in records)
    card = json.loads((out / "scorecard.json").read_text())
    assert card["fault_p"] == 0.3 and card["method"] == "marta"
    assert set(card["returns"]) == {"no_fault", "uniform", "worst_case"}
    assert len(card["returns"]["uniform"]["per_seed"]) == 2
    config = (out / "config.yaml").read_text()
    assert "use_budget: true" in config and "policy: uniform" in config


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["--method", "marta", "--fault-p", "1.5"], "p must be a probability"),
        (["--method", "baseline", "--fault-p", "-0.1"], "p must be a probability"),
        (["--method", "marta", "--fault-selection", "simple", "--fault-agent", "2"], "agent"),
        (["--method", "marta", "--budget", "-1"], "budget"),
        (["--method", "marta", "--cost", "-0.5"], "activation_cost"),
        (["--method", "marta", "--fault-policy", "learned"], "adversary_learner"),
        (["--method", "marta", "--eval-fault-p", "2"], "eval_fault"),
        (["--fault-p", "0.2"], "needs --method"),
    ],
)
def test_cli_bad_fault_input_exits_2_with_one_line(tmp_path, capsys, args, match):
    out = tmp_path / "run"
    base = TINY_CLI if "--method" in args else [a for a in TINY_CLI if "marta." not in a]
    code = main(["train", "--progress", "none", *base, *args, "--out", str(out)])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert match in err and len(err.splitlines()) == 1
    assert not (out / "config.yaml").exists()


def test_cli_unknown_method_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", *TINY_CLI, "--method", "other", "--out", str(tmp_path / "run")])
    assert exc.value.code == 2
    assert "invalid choice: 'other'" in capsys.readouterr().err


def test_marta_section_round_trips_through_yaml_and_completes_eval_fault(tmp_path):
    from marta.experiments.config import build_config, load_config, save_config

    config = build_config(
        {"env_id": "critical-state", "learner_name": "iql"},
        [
            "marta.method=marta",
            "marta.train_fault.policy=worst_case",
            "marta.train_fault.p=0.3",
            "marta.train_fault.budget=2",
            "marta.switcher.use_budget=true",
            "marta.switcher.hidden_sizes=[8, 8]",
            "marta.eval_fault.policy=uniform",  # Case 2: only the policy is shifted
        ],
    )
    m = config.marta
    assert m.evaluation_fault.policy == "uniform" and m.evaluation_fault.p == 0.3
    assert m.evaluation_fault.budget == 2 and m.switcher.hidden_sizes == (8, 8)
    save_config(config, tmp_path / "c.yaml")
    assert load_config(tmp_path / "c.yaml") == config
    plain = build_config({"env_id": "critical-state", "learner_name": "iql"})
    assert plain.marta is None


# ----------------------------------------------------------------------------- counters
class CountingGame(CriticalStateGame):
    """The critical-state game with two per-step info entries to count per episode."""

    episode_counters = {"steps": "one", "critical_visits": "at_critical"}

    def step_env(self, key, state, actions):
        state_, reward, terminated, info = super().step_env(key, state, actions)
        info = {**info, "one": jnp.ones((), jnp.int32)}
        info["at_critical"] = (state.position == self.config.critical).astype(jnp.int32)
        return state_, reward, terminated, info


def test_evaluation_counts_the_env_episode_counters_over_first_episodes_only():
    env = CountingGame()
    config = MartaConfig(method="baseline", train_fault=FaultConfig(p=0.3))
    trainer = make_marta_train(TINY_TRAIN, config, env, make_learner("iql", TINY_LEARNER, env.spec))
    state = jax.jit(jax.vmap(trainer.init))(seed_keys(0, 2))
    _, metrics = jax.jit(vmap_seeds(trainer.segment))(state)
    np.testing.assert_array_equal(metrics["eval_steps_mean"], metrics["eval_length_mean"])
    # positions 0..3 in a loop from 0: an 8-step episode visits the critical one (2) twice
    assert env.max_steps == 8 and env.config.num_positions == 4
    np.testing.assert_array_equal(metrics["eval_critical_visits_mean"], [2.0, 2.0])
