"""MADDPG learner (marta/learners/maddpg.py): math, masking, contract, learning."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import marta.envs
from marta.core import TrainConfig, make_train, seed_keys
from marta.envs.rollout import episode_stats, random_policy, rollout
from marta.learners import LEARNERS, MADDPGConfig, ValueLearnerConfig, make_learner
from marta.learners.maddpg import MLP, gumbel_softmax, per_agent_joint, soft_update
from marta.learners.replay import Episode
from marta.learners.trim import vmap_seeds

SPEC = {"num_agents": 2, "num_actions": 3, "obs_dim": 4, "state_dim": 5}
SMALL = MADDPGConfig(batch_size=4, buffer_size=16, hidden_dim=16)


def random_batch(key, b=4, t=3, spec=SPEC, avail_all=False):
    """A random padded `Episode` batch with a padded tail in the first episode."""
    n, a, o, s = (spec[k] for k in ("num_agents", "num_actions", "obs_dim", "state_dim"))
    ks = jax.random.split(key, 5)
    avail = jax.random.bernoulli(ks[2], 0.6, (b, t + 1, n, a)).at[..., 0].set(True)
    if avail_all:
        avail = jnp.ones_like(avail)
    filled = jnp.ones((b, t), bool).at[0, -1].set(False)
    return Episode(
        obs=jax.random.normal(ks[0], (b, t + 1, n, o)),
        state=jax.random.normal(ks[1], (b, t + 1, s)),
        avail=avail,
        actions=jax.random.randint(ks[3], (b, t, n), 0, a),
        reward=jax.random.normal(ks[4], (b, t)),
        terminated=jnp.zeros((b, t), bool).at[1, -1].set(True),
        filled=filled,
    )


# ----------------------------------------------------------------------------- contract
@pytest.mark.parametrize("critic_input", ["joint_obs", "state"])
def test_shapes_and_jit(critic_input):
    cfg = dataclasses.replace(SMALL, critic_input=critic_input)
    learner = make_learner("maddpg", cfg, SPEC)
    state = jax.jit(learner.init)(jax.random.key(0))
    obs = jnp.ones((2, 4))
    avail = jnp.ones((2, 3), bool)
    act = jax.jit(learner.act, static_argnums=5)
    actions, q, carry = act(jax.random.key(1), state, obs, learner.initial_carry(), avail, True)
    assert actions.shape == (2,) and actions.dtype == jnp.int32
    assert q.shape == (2, 3) and np.all(np.isfinite(q))
    np.testing.assert_array_equal(carry.last_action, actions)
    q2, _ = learner.q_values(state.params, obs, learner.initial_carry())
    np.testing.assert_allclose(q, q2, rtol=1e-6)
    new_state, metrics = jax.jit(learner.update)(
        jax.random.key(2), state, random_batch(jax.random.key(3))
    )
    assert int(new_state.updates) == 1
    assert all(np.isfinite(v) for v in metrics.values())
    for k in ("critic_loss", "actor_loss", "pg_loss", "q_taken_mean", "target_mean"):
        assert k in metrics
    assert float(learner.epsilon(state)) == 0.0


def test_registry_and_config_validation():
    assert LEARNERS["maddpg"].config_cls is MADDPGConfig
    with pytest.raises(ValueError, match="MADDPGConfig"):
        make_learner("maddpg", ValueLearnerConfig(), SPEC)
    with pytest.raises(ValueError, match="critic_input"):
        MADDPGConfig(critic_input="obs")
    with pytest.raises(ValueError, match="gumbel_temperature"):
        MADDPGConfig(gumbel_temperature=0.0)
    with pytest.raises(ValueError, match="buffer_size"):
        MADDPGConfig(batch_size=8, buffer_size=4)
    with pytest.raises(ValueError, match="env_spec"):
        make_learner("maddpg", SMALL, SPEC).init(jax.random.key(0), {**SPEC, "num_actions": 4})


def test_act_values_are_the_critics_per_agent_action_values():
    """q[i, k] = Q_i(joint obs, a_i = k, a_-i = greedy) computed by hand with the critic MLP."""
    learner = make_learner("maddpg", SMALL, SPEC)
    state = learner.init(jax.random.key(0))
    obs = jax.random.normal(jax.random.key(1), (2, 4))
    avail = jnp.array([[True, False, True], [False, True, True]])
    _, q, _ = learner.act(jax.random.key(2), state, obs, learner.initial_carry(), avail, False)
    actor = MLP(hidden_dim=16, out_dim=3)
    logits = actor.apply(state.params["actor"], jnp.concatenate([obs, jnp.eye(2)], -1))
    greedy = np.asarray(jnp.argmax(jnp.where(avail, logits, -1e9), -1))
    critic = MLP(hidden_dim=16, out_dim=1)
    for i in range(2):
        for k in range(3):
            joint = np.zeros((2, 3), np.float32)
            joint[np.arange(2), greedy] = 1.0
            joint[i] = np.eye(3)[k]
            x = np.concatenate([np.asarray(obs).ravel(), np.eye(2)[i], joint.ravel()])
            expected = critic.apply(state.params["critic"], jnp.asarray(x))[0]
            np.testing.assert_allclose(q[i, k], expected, rtol=1e-5, atol=1e-6)


def test_state_critic_falls_back_to_actor_logits():
    cfg = dataclasses.replace(SMALL, critic_input="state")
    learner = make_learner("maddpg", cfg, SPEC)
    state = learner.init(jax.random.key(0))
    obs = jax.random.normal(jax.random.key(1), (2, 4))
    _, q, _ = learner.act(
        jax.random.key(2), state, obs, learner.initial_carry(), jnp.ones((2, 3), bool), False
    )
    actor = MLP(hidden_dim=16, out_dim=3)
    logits = actor.apply(state.params["actor"], jnp.concatenate([obs, jnp.eye(2)], -1))
    np.testing.assert_allclose(q, logits, rtol=1e-6)


def test_per_agent_joint_by_hand():
    own = jnp.array([[1.0, 0.0], [0.0, 1.0]])
    others = jnp.array([[0.0, 1.0], [1.0, 0.0]])
    np.testing.assert_array_equal(per_agent_joint(own, others), [[1, 0, 1, 0], [0, 1, 0, 1]])


# ----------------------------------------------------------------------------- masking
def test_masked_actions_are_never_chosen():
    learner = make_learner("maddpg", SMALL, SPEC)
    state = learner.init(jax.random.key(0))
    avail = jnp.array([[False, True, False], [True, False, True]])
    obs = jax.random.normal(jax.random.key(1), (2, 4))
    keys = jax.random.split(jax.random.key(2), 2000)
    act = jax.vmap(learner.act, in_axes=(0, None, None, None, None, None))
    for explore in (True, False):
        actions, _, _ = act(keys, state, obs, learner.initial_carry(), avail, explore)
        chosen = np.asarray(avail)[np.arange(2), np.asarray(actions)]
        assert chosen.all()
    actions, _, _ = act(keys, state, obs, learner.initial_carry(), avail, True)
    assert set(np.unique(actions[:, 1]).tolist()) == {0, 2}  # exploration samples both


def test_target_actions_respect_next_availability():
    """With constant-zero critic weights except the joint-action input, the bootstrap value
    reveals which target action was taken; it must be the only available one."""
    learner = make_learner("maddpg", SMALL, SPEC)
    state = learner.init(jax.random.key(0))
    batch = random_batch(jax.random.key(1), avail_all=True)
    only = jnp.zeros_like(batch.avail).at[..., 2].set(True)
    batch = batch.replace(avail=only, terminated=jnp.zeros_like(batch.terminated))
    # target critic = value of agent 0's action-2 input bit (index X + N + 2)
    x_dim = 2 * 4
    crit = jax.tree.map(jnp.zeros_like, state.params["critic"])
    crit["params"]["fc1"]["kernel"] = crit["params"]["fc1"]["kernel"].at[x_dim + 2 + 2, 0].set(1.0)
    crit["params"]["fc2"]["kernel"] = crit["params"]["fc2"]["kernel"].at[0, 0].set(1.0)
    crit["params"]["fc3"]["kernel"] = crit["params"]["fc3"]["kernel"].at[0, 0].set(1.0)
    params = {"actor": state.params["actor"], "critic": crit}
    loss = jax.jit(learner.loss)
    _, aux = loss(params, params, batch)
    # every filled target = r + gamma * 1 (agent 0 took action 2 at t + 1)
    f = np.asarray(batch.filled)
    expected = (np.asarray(batch.reward)[f] + 0.99).mean()
    np.testing.assert_allclose(aux["target_mean"], expected, rtol=1e-5)
    # without the mask the target actor's argmax is not always action 2 (the test can fail)
    _, unmasked = loss(params, params, batch.replace(avail=jnp.ones_like(only)))
    assert float(unmasked["target_mean"]) < expected - 0.05


# ----------------------------------------------------------------------------- math
def test_gumbel_softmax_straight_through():
    logits = jnp.array([0.5, -1.0, 2.0, 0.0])
    key = jax.random.key(3)
    temperature = 0.7
    y = gumbel_softmax(key, logits, temperature)
    noisy = logits + jax.random.gumbel(key, logits.shape)
    np.testing.assert_array_equal(y, jax.nn.one_hot(jnp.argmax(noisy), 4))
    w = jnp.array([1.0, -2.0, 0.5, 3.0])
    grad_st = jax.grad(lambda lg: jnp.sum(w * gumbel_softmax(key, lg, temperature)))(logits)
    grad_soft = jax.grad(
        lambda lg: jnp.sum(w * jax.nn.softmax((lg + noisy - logits) / temperature))
    )(logits)
    np.testing.assert_allclose(grad_st, grad_soft, rtol=1e-5, atol=1e-7)
    assert np.abs(grad_st).sum() > 1e-3
    # forward samples follow softmax(logits)
    samples = jax.vmap(lambda k: gumbel_softmax(k, logits, 1.0))(
        jax.random.split(jax.random.key(4), 20_000)
    )
    np.testing.assert_allclose(samples.mean(0), jax.nn.softmax(logits), atol=0.015)


def test_soft_update_math_and_update_targets():
    online = {"w": jnp.array([1.0, 2.0])}
    target = {"w": jnp.array([3.0, -1.0])}
    np.testing.assert_allclose(soft_update(online, target, 0.25)["w"], [2.5, -0.25])
    cfg = dataclasses.replace(SMALL, tau=0.3)
    learner = make_learner("maddpg", cfg, SPEC)
    state = learner.init(jax.random.key(0))
    old_target = jax.tree.map(lambda x: x + 1.0, state.target_params)
    state = state.replace(target_params=old_target)
    new, _ = jax.jit(learner.update)(jax.random.key(1), state, random_batch(jax.random.key(2)))
    expected = jax.tree.map(lambda p, t: 0.3 * p + 0.7 * t, new.params, old_target)
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5), new.target_params, expected
    )
    changed = jax.tree.map(lambda a, b: bool(jnp.any(a != b)), new.params, state.params)
    assert all(jax.tree.leaves(changed))  # both actor and critic moved


@pytest.mark.parametrize("bootstrap_on_truncation", [True, False])
def test_critic_target_on_hand_computed_batch(bootstrap_on_truncation):
    """Critics with zero weights output their last bias: Q = q0 online, Q^- = c target."""
    cfg = dataclasses.replace(
        SMALL, gamma=0.5, reward_scale=2.0, bootstrap_on_truncation=bootstrap_on_truncation
    )
    learner = make_learner("maddpg", cfg, SPEC)
    state = learner.init(jax.random.key(0))

    def constant(value):
        crit = jax.tree.map(jnp.zeros_like, state.params["critic"])
        crit["params"]["fc3"]["bias"] = jnp.array([value])
        return {"actor": state.params["actor"], "critic": crit}

    q0, c = 1.0, 4.0
    batch = random_batch(jax.random.key(1), b=2, t=3)
    batch = batch.replace(
        reward=jnp.array([[1.0, 2.0, 9.0], [0.0, -1.0, 3.0]]),
        filled=jnp.array([[True, True, False], [True, True, True]]),
        terminated=jnp.array([[False, False, False], [False, False, True]]),
    )
    loss, aux = jax.jit(learner.loss)(constant(q0), constant(c), batch)
    # episode 0 is truncated after step 1; episode 1 terminates at step 2
    boot_last0 = 0.5 * c if bootstrap_on_truncation else 0.0
    targets = np.array([2 + 0.5 * c, 4 + boot_last0, 0 + 0.5 * c, -2 + 0.5 * c, 6.0])
    np.testing.assert_allclose(aux["target_mean"], targets.mean(), rtol=1e-6)
    np.testing.assert_allclose(aux["critic_loss"], ((q0 - targets) ** 2).mean(), rtol=1e-6)
    np.testing.assert_allclose(aux["q_taken_mean"], q0, rtol=1e-6)
    # the actor ascends a constant critic only through the regulariser
    np.testing.assert_allclose(aux["pg_loss"], -q0, rtol=1e-6)


def test_actor_gradient_moves_towards_the_critics_best_action():
    """Critic = +1 for agent-0 action 1 (all else 0): the actor's logit of action 1 rises."""
    cfg = dataclasses.replace(SMALL, reg=0.0)
    learner = make_learner("maddpg", cfg, SPEC)
    state = learner.init(jax.random.key(0))
    crit = jax.tree.map(jnp.zeros_like, state.params["critic"])
    x_dim = 2 * 4
    crit["params"]["fc1"]["kernel"] = crit["params"]["fc1"]["kernel"].at[x_dim + 2 + 1, 0].set(1.0)
    crit["params"]["fc2"]["kernel"] = crit["params"]["fc2"]["kernel"].at[0, 0].set(1.0)
    crit["params"]["fc3"]["kernel"] = crit["params"]["fc3"]["kernel"].at[0, 0].set(1.0)
    params = {"actor": state.params["actor"], "critic": crit}
    batch = random_batch(jax.random.key(1), avail_all=True)

    def prob_action_1(actor_params):
        obs = batch.obs[:, :-1, 0]
        inputs = jnp.concatenate([obs, jnp.broadcast_to(jnp.eye(2)[0], (*obs.shape[:-1], 2))], -1)
        return jax.nn.softmax(MLP(16, 3).apply(actor_params, inputs))[..., 1].mean()

    pg_loss = lambda ap: learner.loss({**params, "actor": ap}, params, batch)[1]["pg_loss"]
    grads = jax.jit(jax.grad(pg_loss))(params["actor"])
    stepped = jax.tree.map(lambda p, g: p - 0.05 * g, params["actor"], grads)
    assert prob_action_1(stepped) > prob_action_1(params["actor"]) + 1e-3


# ----------------------------------------------------------------------------- training
CLIMBING_TRAIN = TrainConfig(
    total_env_steps=9_600,
    num_envs=16,
    rollout_steps=5,
    learning_starts=800,
    eval_interval=4_800,
    eval_episodes=16,
)
CLIMBING_LEARNER = MADDPGConfig(buffer_size=500, hidden_dim=32)


def test_training_is_deterministic_given_the_seed():
    env = marta.envs.make("matrix-penalty")
    train = dataclasses.replace(CLIMBING_TRAIN, total_env_steps=1_600, eval_interval=800)
    trainer = make_train(train, env, make_learner("maddpg", CLIMBING_LEARNER, env.spec))
    segment = jax.jit(trainer.segment)

    def run(seed):
        state = trainer.init(seed_keys(seed, 1)[0])
        for _ in range(trainer.num_segments):
            state, metrics = segment(state)
        return state, metrics

    (s1, m1), (s2, m2), (s3, _) = run(0), run(0), run(1)
    assert float(m1["updates"]) > 0
    jax.tree.map(np.testing.assert_array_equal, s1.learner.params, s2.learner.params)
    np.testing.assert_array_equal(m1["critic_loss"], m2["critic_loss"])
    differs = jax.tree.map(lambda a, b: bool(jnp.any(a != b)), s1.learner.params, s3.learner.params)
    assert any(jax.tree.leaves(differs))


def test_learns_the_climbing_game():
    """Greedy return beats uniform-random play by a wide margin (2 seeds, vmapped).

    Random play averages -31/9 per round (-34 per episode); the safe equilibrium (5 per
    round) gives 50 and the optimum (11 per round) 110.
    """
    env = marta.envs.make("matrix-climbing")
    random_return = episode_stats(rollout(env, random_policy, jax.random.key(0), 64, 100))
    trainer = make_train(CLIMBING_TRAIN, env, make_learner("maddpg", CLIMBING_LEARNER, env.spec))
    segment = jax.jit(vmap_seeds(trainer.segment))
    state = jax.jit(jax.vmap(trainer.init))(seed_keys(1, 2))
    for _ in range(trainer.num_segments):
        state, metrics = segment(state)
    learned = np.asarray(metrics["eval_return_mean"])
    assert random_return["return_mean"] < -25.0
    assert np.all(learned >= random_return["return_mean"] + 70.0), learned


@pytest.mark.slow
def test_simple_tag_predators_triple_the_random_return():
    """MADDPG predators vs the heuristic prey: >= 3x random predators' team return, 3 seeds.

    Settings of the run in docs/learners.md: EPyMARL defaults except gamma 0.95 (Lowe et al.,
    2017, on MPE), a 5 000-episode buffer, rewards x0.1 (in place of EPyMARL's reward
    standardisation) and 4 updates per 80 env steps (EPyMARL: one per 25-step episode).
    """
    env = marta.envs.make("mpe-simple-tag")
    random_return = episode_stats(rollout(env, random_policy, jax.random.key(0), 256, 25))
    train = TrainConfig(
        total_env_steps=1_000_000,
        updates_per_rollout=4,
        learning_starts=5_000,
        eval_interval=50_000,
        eval_episodes=100,
    )
    config = MADDPGConfig(buffer_size=5_000, reward_scale=0.1, gamma=0.95)
    trainer = make_train(train, env, make_learner("maddpg", config, env.spec))
    segment = jax.jit(vmap_seeds(trainer.segment))
    state = jax.jit(jax.vmap(trainer.init))(seed_keys(0, 3))
    for _ in range(trainer.num_segments):
        state, metrics = segment(state)
    learned = np.asarray(metrics["eval_return_mean"])
    assert random_return["return_mean"] > 0.0
    assert np.all(learned >= 3.0 * random_return["return_mean"]), learned
