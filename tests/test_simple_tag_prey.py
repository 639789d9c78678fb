"""Simple-Tag from the prey's side (`marta.envs.simple_tag_prey`) and the shipped prey.

The chasing predators close in on a still prey; `export_prey_mlp` writes an MLP that picks
the trained actor's greedy actions; the shipped ``simple_tag_prey.npz`` loses far less
against chasing predators than a random prey does.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import marta.envs
from marta.core import seed_keys
from marta.envs.simple_tag import DEFAULT_PREY_PARAMS, load_prey_mlp
from marta.envs.simple_tag_prey import SimpleTagPrey, export_prey_mlp
from marta.experiments.checkpoint import load_checkpoint
from marta.experiments.config import build_config
from marta.experiments.runner import build_trainer, run_experiment

ENV = SimpleTagPrey()


def _mlp_policy(layers):
    def policy(key, obs, avail):
        del key, avail
        h = obs
        for w, b in layers[:-1]:
            h = jax.nn.relu(h @ w + b)
        return jnp.argmax(h @ layers[-1][0] + layers[-1][1], axis=-1).astype(jnp.int32)

    return policy


def _prey_distance(states) -> np.ndarray:
    """Mean distance from each predator to the prey, per env."""
    pos = states.env.pos
    return np.asarray(jnp.linalg.norm(pos[:, :3] - pos[:, 3:4], axis=-1).mean(-1))


def test_chasing_predators_close_in_on_a_still_prey():
    keys = jax.random.split(jax.random.key(0), 64)
    _, states = jax.vmap(ENV.reset)(keys)
    start = _prey_distance(states)
    still = jnp.zeros((64, 1), jnp.int32)
    step = jax.jit(jax.vmap(ENV.step))
    for t in range(15):  # from rest: a predator needs ~10 steps to reach full speed
        _, states, _, _, _ = step(jax.random.split(jax.random.key(t + 1), 64), states, still)
    assert _prey_distance(states).mean() < 0.6 * start.mean()  # measured: 0.50


def test_unknown_predator_policy_names_the_field():
    with pytest.raises(ValueError, match="predator_policy must be one of chase, random"):
        marta.envs.make("mpe-simple-tag-prey", predator_policy="smart")


def test_export_writes_the_actors_greedy_policy(tmp_path):
    config = build_config(
        {"env_id": "mpe-simple-tag-prey", "learner_name": "maddpg"},
        [
            "train.total_env_steps=160",
            "train.num_envs=4",
            "train.rollout_steps=4",
            "train.eval_interval=80",
            "train.eval_episodes=2",
            "train.learning_starts=0",
            "learner.batch_size=2",
            "learner.buffer_size=8",
            "learner.hidden_dim=16",
            "learner.obs_scale=0.5",
        ],
    )
    run_experiment(config, tmp_path / "run", progress="none")
    layers = load_prey_mlp(export_prey_mlp(tmp_path / "run", tmp_path / "p.npz"), ENV.obs_dim)
    assert [w.shape for w, _ in layers] == [(ENV.obs_dim, 16), (16, 16), (16, 5)]
    trainer = build_trainer(config)
    template = jax.eval_shape(jax.vmap(trainer.init), seed_keys(0, 1))
    state, _ = load_checkpoint(tmp_path / "run" / "checkpoints", template)
    learner = jax.tree.map(lambda x: x[0], state.learner)
    from marta.learners import make_learner

    actor = make_learner("maddpg", config.learner, ENV.spec)
    obs = jax.random.normal(jax.random.key(3), (256, 1, ENV.obs_dim)) * 2.0
    avail = jnp.ones((1, ENV.num_actions), bool)
    greedy = jax.vmap(
        lambda o: actor.act(jax.random.key(0), learner, o, actor.initial_carry(), avail, False)[0]
    )(obs)
    np.testing.assert_array_equal(_mlp_policy(layers)(None, obs, None), greedy)
    assert len(np.unique(np.asarray(greedy))) > 1


def test_the_shipped_prey_escapes_chasing_predators():
    layers = load_prey_mlp(DEFAULT_PREY_PARAMS, ENV.obs_dim)
    key = jax.random.key(0)
    trained = marta.envs.rollout(ENV, _mlp_policy(layers), key, 256, 100, keep_obs=False)
    random = marta.envs.rollout(ENV, marta.envs.random_policy, key, 256, 100, keep_obs=False)
    trained_return = marta.envs.episode_stats(trained)["return_mean"]
    random_return = marta.envs.episode_stats(random)["return_mean"]
    # measured: about -11 against -83 per 25-step episode (docs/envs/simple_tag.md)
    assert trained_return > random_return + 40, (trained_return, random_return)
