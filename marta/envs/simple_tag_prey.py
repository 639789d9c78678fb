"""Simple-Tag from the prey's side: where the shipped pretrained prey was trained.

`mpe-simple-tag` lets predators learn against a fixed prey; one of its prey policies,
``"pretrained"``, is a policy trained by our own MADDPG, as EPyMARL ships one for this task.
This module is where that prey comes from:

* `SimpleTagPrey` (``mpe-simple-tag-prey``): the same world (`SimpleTag.step_all`), but the
  learning team is the prey, rewarded as mpe2 rewards a good agent (-10 per predator touching
  it, minus the boundary penalty), against predators driven by a fixed policy: ``"chase"``
  (each predator takes the action that brings it closest to where the nearest prey will be,
  two physics steps ahead) or ``"random"``.
* `export_prey_mlp` turns a MADDPG run on it into the ``.npz`` MLP that `load_prey_mlp`
  reads (observation scaling and the constant agent id folded into the first layer).
* ``python -m marta.envs.train_prey --out DIR`` trains the prey and writes
  ``marta/envs/assets/simple_tag_prey.npz``; docs/envs/simple_tag.md has the command and the
  resulting prey's evaluation.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Literal, get_args

import jax
import jax.numpy as jnp
import numpy as np

from marta.envs import mpe_core
from marta.envs.base import EnvStep, MultiAgentEnv
from marta.envs.registry import register
from marta.envs.simple_tag import (
    PREDATOR_ACCEL,
    PREDATOR_MAX_SPEED,
    SimpleTag,
    SimpleTagState,
    WorldConfig,
    positions_after_each_action,
)

PredatorPolicy = Literal["chase", "random"]
PREDATOR_POLICIES: tuple[str, ...] = get_args(PredatorPolicy)


class SimpleTagPrey(MultiAgentEnv):
    """MPE Simple-Tag with the prey as the learning team, against fixed predators."""

    episode_counters = {"captures": "captures"}

    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Config(WorldConfig):
        predator_policy: PredatorPolicy = "chase"
        """fixed predator behaviour: chase (the nearest prey) or random"""

        def __post_init__(self) -> None:
            super().__post_init__()
            if self.predator_policy not in PREDATOR_POLICIES:
                raise ValueError(
                    f"predator_policy must be one of {', '.join(PREDATOR_POLICIES)}; "
                    f"got {self.predator_policy!r}"
                )

    def __init__(self, **kwargs: Any) -> None:
        self.config = cfg = self.Config(**kwargs)
        # prey_policy is unused: the prey's actions are the team's
        self.world = SimpleTag(**cfg.world_kwargs(), prey_policy="frozen")
        self.num_agents = cfg.num_prey
        self.num_actions = mpe_core.NUM_MOVE_ACTIONS
        self.obs_dim = self.world.prey_obs_dim
        self.state_dim = self.world.state_dim
        self.max_steps = cfg.max_steps

    def reset_env(self, key: jax.Array) -> SimpleTagState:
        return self.world.reset_env(key)

    def step_env(self, key: jax.Array, state: SimpleTagState, actions: jax.Array) -> EnvStep:
        predator_actions = self.predator_actions(key, state)
        next_state, _, prey_rewards = self.world.step_all(state, predator_actions, actions)
        extra = {
            "captures": self.world._captures(next_state).sum().astype(jnp.int32),
            "predator_actions": predator_actions,
        }
        return next_state, prey_rewards.sum(), jnp.zeros((), bool), extra

    def predator_actions(self, key: jax.Array, state: SimpleTagState) -> jax.Array:
        """i32[num_predators] actions of the configured predator policy in `state`."""
        n_pred = self.config.num_predators
        if self.config.predator_policy == "random":
            return jax.random.randint(key, (n_pred,), 0, self.num_actions)
        n_all = n_pred + self.config.num_prey
        prey_pos, prey_vel = state.pos[n_pred:n_all], state.vel[n_pred:n_all]
        pred_pos, pred_vel = state.pos[:n_pred], state.vel[:n_pred]
        prey_ahead = prey_pos + 2.0 * mpe_core.DT * prey_vel  # [G, 2]
        dist = jnp.sum(jnp.square(pred_pos[:, None] - prey_pos[None]), axis=-1)  # [P, G]
        nearest = jax.nn.one_hot(jnp.argmin(dist, axis=1), self.config.num_prey)
        target = nearest.astype(prey_ahead.dtype) @ prey_ahead  # [P, 2]
        ahead = positions_after_each_action(pred_pos, pred_vel, PREDATOR_ACCEL, PREDATOR_MAX_SPEED)
        gap = jnp.linalg.norm(ahead - target[:, None], axis=-1)  # [P, 5]
        return jnp.argmin(gap, axis=1).astype(jnp.int32)

    def observe(self, state: SimpleTagState) -> jax.Array:
        """Prey observations f32[num_prey, obs_dim] (mpe2 good-agent layout)."""
        return self.world.prey_observations(state)

    def global_state_of(self, state: SimpleTagState) -> jax.Array:
        return self.world.global_state_of(state)


def export_prey_mlp(run_dir: str | Path, path: str | Path, seed: int = 0) -> Path:
    """Writes the greedy actor of a MADDPG run on ``mpe-simple-tag-prey`` as a prey MLP.

    The actor's input is ``obs * obs_scale ++ agent-id one-hot`` (a single prey: the
    constant 1), so the first layer becomes ``w0 = obs_scale * W[:obs_dim]`` and
    ``b0 = b + W[obs_dim]``; the file holds ``w0, b0, w1, b1, ...`` for `load_prey_mlp`.

    Args:
        run_dir: a finished `marta train` run (its latest checkpoint).
        path: the ``.npz`` to write (atomically).
        seed: which seed's actor.

    Raises:
        ValueError: the run is not MADDPG on one prey without last-action inputs.
    """
    from marta.experiments.config import load_config
    from marta.experiments.io import atomic_write_with
    from marta.experiments.runner import RunPaths, load_trained

    paths = RunPaths(Path(run_dir))
    config = load_config(paths.config)
    cfg = config.learner
    if config.learner_name != "maddpg" or config.env_id != "mpe-simple-tag-prey":
        raise ValueError(f"{run_dir}: needs a maddpg run on mpe-simple-tag-prey")
    env = SimpleTagPrey(**config.env_kwargs)
    if cfg.obs_last_action or env.num_agents != 1:
        raise ValueError(f"{run_dir}: needs one prey and learner.obs_last_action=false")
    _, state, _ = load_trained(paths, config)
    actor = jax.tree.map(lambda x: np.asarray(x[seed]), state.learner.params["actor"])
    layers = [actor["params"][name] for name in sorted(actor["params"], key=_layer_number)]
    arrays = {}
    for i, layer in enumerate(layers):
        w, b = np.asarray(layer["kernel"], np.float32), np.asarray(layer["bias"], np.float32)
        if i == 0:
            b = b + (w[env.obs_dim] if cfg.obs_agent_id else 0.0)
            w = w[: env.obs_dim] * np.float32(cfg.obs_scale)
        arrays[f"w{i}"], arrays[f"b{i}"] = w, b
    atomic_write_with(Path(path), lambda f: np.savez(f, **arrays))
    return Path(path)


def _layer_number(name: str) -> int:
    return int("".join(c for c in name if c.isdigit()) or 0)


register(
    "mpe-simple-tag-prey",
    SimpleTagPrey,
    "MPE simple tag from the prey's side: 1 prey (team) vs 3 chasing predators, 2 obstacles",
    num_predators=3,
    num_prey=1,
    num_obstacles=2,
)
