"""Compiled training programs contain no LAPACK calls.

jaxlib 0.10 runs batched LAPACK kernels on XLA's intra-op pool; a seed-vmapped program with
several concurrent QR calls (flax's orthogonal GRU initialiser) deadlocked MARTA-QMIX on LBF
at 3 seeds. `marta.learners.networks.orthogonal` replaces the QR; these tests keep it out.
"""

from __future__ import annotations

import jax
import numpy as np
import pytest

import marta.envs
from marta.core import TrainConfig, make_train, seed_keys
from marta.core.marta import MartaConfig, make_marta_train
from marta.faults import FaultConfig
from marta.learners import MADDPGConfig, ValueLearnerConfig, make_learner
from marta.learners.networks import orthogonal
from marta.learners.trim import vmap_seeds

SMALL = TrainConfig(
    total_env_steps=200, num_envs=2, rollout_steps=5, learning_starts=0, eval_interval=100,
    eval_episodes=2,
)  # fmt: skip


@pytest.mark.parametrize("shape", [(8, 8), (16, 4), (4, 16)])
def test_orthogonal_matches_flax_default_without_qr(shape):
    key = jax.random.key(3)
    ours = np.asarray(orthogonal(key, shape))
    flax_default = np.asarray(jax.nn.initializers.orthogonal()(key, shape))
    np.testing.assert_allclose(ours, flax_default, atol=1e-5)
    small = min(shape)
    gram = ours.T @ ours if shape[0] >= shape[1] else ours @ ours.T
    np.testing.assert_allclose(gram, np.eye(small), atol=1e-5)
    assert "lapack" not in jax.jit(orthogonal, static_argnums=1).lower(key, shape).as_text()


def _programs(env_id, learner, marta_config=None):
    env = marta.envs.make(env_id)
    learner = make_learner(learner[0], learner[1], env.spec)
    if marta_config is None:
        trainer = make_train(SMALL, env, learner)
    else:
        trainer = make_marta_train(SMALL, marta_config, env, learner)
    keys = seed_keys(0, 3)
    state = jax.eval_shape(jax.vmap(trainer.init), keys)
    yield jax.jit(jax.vmap(trainer.init)).lower(keys).as_text()
    yield jax.jit(vmap_seeds(trainer.segment)).lower(state).as_text()


@pytest.mark.parametrize(
    "env_id,learner,marta_config",
    [
        ("lbf-5x5-2p-1f", ("qmix", ValueLearnerConfig()), None),
        ("mpe-simple-tag", ("maddpg", MADDPGConfig()), None),
        (
            "lbf-5x5-2p-1f",
            ("qmix", ValueLearnerConfig()),
            MartaConfig(train_fault=FaultConfig(p=0.2, policy="learned"), adversary_learner="qmix"),
        ),
    ],
    ids=["qmix", "maddpg", "marta-learned-adversary"],
)
def test_training_programs_have_no_lapack_calls(env_id, learner, marta_config):
    for text in _programs(env_id, learner, marta_config):
        assert "lapack" not in text
