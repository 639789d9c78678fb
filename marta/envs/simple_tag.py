"""MPE Simple-Tag (predator-prey) in pure JAX, with the dynamics of `mpe2.simple_tag_v3`.

How to read this file: the world is `num_predators` slow predators (mpe2's "adversaries"),
`num_prey` fast prey (mpe2's "good agents") and `num_obstacles` fixed obstacles, in mpe2's
entity order (predators, prey, obstacles). The physics is `marta.envs.mpe_core.world_step`.
The learning team is the predators: `actions` are the predators' discrete actions, and the
prey is driven inside `step_env` by a fixed policy chosen in the config (`prey_policy`):

* ``"random"``: uniform over the 5 actions;
* ``"frozen"``: always the no-op;
* ``"heuristic"``: the action that maximises the predicted distance to the nearest predator
  two physics steps ahead (an action changes the velocity now and the position on the next
  step), minus mpe2's boundary penalty (the prey's own reward term) when
  ``prey_avoids_boundary`` (default), so the prey flees but stays near the arena;
* ``"pretrained"``: a greedy MLP over the prey's mpe2 observation, loaded from an ``.npz``
  (see `load_prey_mlp`); the default file ships with marta: a prey trained by our MADDPG
  against chasing predators (`marta.envs.simple_tag_prey`).

`step_all(state, predator_actions, prey_actions)` is the pure joint transition that
`step_env` uses; the parity test drives it with the reference environment's actions.

Rewards (mpe2 `Scenario.adversary_reward` / `agent_reward`): each predator receives +10 per
colliding (predator, prey) pair *anywhere in the team* (the adversaries' reward is shared),
so the team reward is ``num_predators * 10 * #collisions``. A prey receives -10 per predator
touching it minus the boundary penalty (reported in ``info["prey_reward"]``, not learnt).

Observations are mpe2's, per agent: ``[self_vel, self_pos, obstacle_rel_pos,
other_agents_rel_pos, prey_vel]`` (a prey sees the *other* prey's velocities). The global
state is ``concat(positions.ravel(), velocities.ravel())`` of all entities in entity order
(obstacle velocities are always zero). There is no terminal state (mpe2's default
``terminate_on_success=False``); episodes end by truncation after ``max_steps`` (mpe2's
``max_cycles=25``).

Arrays use JAX's default float: float32, or float64 for an environment constructed under
``jax.enable_x64(True)`` (the whole-episode parity test does this).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Literal, get_args

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from marta.envs import mpe_core
from marta.envs.base import EnvStep, MultiAgentEnv
from marta.envs.registry import register

PreyPolicy = Literal["random", "frozen", "heuristic", "pretrained"]
PREY_POLICIES: tuple[str, ...] = get_args(PreyPolicy)

#: default file of the "pretrained" prey policy (see `load_prey_mlp` for its format)
DEFAULT_PREY_PARAMS = Path(__file__).parent / "assets" / "simple_tag_prey.npz"

# mpe2 simple_tag_v3 `Scenario.make_world`
PREDATOR_SIZE, PREY_SIZE, OBSTACLE_SIZE = 0.075, 0.05, 0.2
PREDATOR_ACCEL, PREY_ACCEL = 3.0, 4.0
PREDATOR_MAX_SPEED, PREY_MAX_SPEED = 1.0, 1.3
CAPTURE_REWARD = 10.0


@struct.dataclass
class SimpleTagState:
    """Dynamic state of the particle world, entities in mpe2's order.

    Attributes:
        pos: f32[E, 2] positions of predators, prey, then obstacles.
        vel: f32[E, 2] velocities (zero for obstacles).
    """

    pos: jax.Array
    vel: jax.Array


def boundary_penalty(pos: jax.Array) -> jax.Array:
    """mpe2's prey boundary penalty ``bound(|x|)`` summed over the two coordinates.

    .. math:: b(x) = 0 \\;(x < 0.9),\\quad 10 (x - 0.9) \\;(x < 1),\\quad
              \\min(e^{2x - 2}, 10) \\;\\text{otherwise}

    Args:
        pos: f32[..., 2] positions.

    Returns:
        f32[...] penalty (non-negative; the prey's reward subtracts it).
    """
    x = jnp.abs(pos)
    b = jnp.where(
        x < 0.9,
        0.0,
        jnp.where(x < 1.0, (x - 0.9) * 10.0, jnp.minimum(jnp.exp(2.0 * x - 2.0), 10.0)),
    )
    return b.sum(axis=-1)


def positions_after_each_action(
    pos: jax.Array, vel: jax.Array, accel: float, max_speed: float
) -> jax.Array:
    """f32[K, 5, 2]: where each of K agents is two physics steps ahead for each action now.

    An action changes the velocity now (damping, acceleration, speed cap; contacts ignored)
    and the position on the next step, so positions two steps ahead tell the actions apart.

    Args:
        pos, vel: f32[K, 2] positions and velocities.
        accel, max_speed: the agents' acceleration and speed cap (mpe2 `make_world`).
    """
    directions = jnp.asarray(mpe_core.ACTION_DIRECTIONS)  # [5, 2]
    new_vel = vel[:, None] * (1.0 - mpe_core.DAMPING) + directions * accel * mpe_core.DT
    speed = jnp.linalg.norm(new_vel, axis=-1, keepdims=True)
    new_vel = new_vel * jnp.minimum(1.0, max_speed / jnp.maximum(speed, 1e-12))
    return pos[:, None] + vel[:, None] * mpe_core.DT + new_vel * mpe_core.DT


def load_prey_mlp(path: Path, obs_dim: int) -> tuple[tuple[jax.Array, jax.Array], ...]:
    """Loads a prey MLP from an ``.npz`` with arrays ``w0, b0, w1, b1, ...``.

    Layer l computes ``h @ w{l} + b{l}``; hidden layers use ReLU and the last layer gives
    the logits of the 5 actions, played greedily.

    Args:
        path: the ``.npz`` file.
        obs_dim: the prey observation size the first layer must accept.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the arrays do not form an MLP from obs_dim to 5 logits.
    """
    if not path.is_file():
        raise FileNotFoundError(
            f"prey_policy='pretrained' needs the prey MLP file {str(path)!r} (field "
            f"prey_params_path), which does not exist. Pass prey_params_path=<your .npz> "
            f"(python -m marta.envs.train_prey writes one) or use prey_policy in "
            f"{PREY_POLICIES[:3]}."
        )
    with np.load(path) as data:
        num_layers = len([k for k in data.files if k.startswith("w")])
        layers = []
        width = obs_dim
        for i in range(num_layers):
            if f"w{i}" not in data.files or f"b{i}" not in data.files:
                raise ValueError(f"prey_params_path {str(path)!r}: missing w{i} or b{i}")
            w, b = np.asarray(data[f"w{i}"], np.float32), np.asarray(data[f"b{i}"], np.float32)
            if w.ndim != 2 or w.shape[0] != width or b.shape != (w.shape[1],):
                raise ValueError(
                    f"prey_params_path {str(path)!r}: layer {i} has w{w.shape}, b{b.shape}; "
                    f"expected w[{width}, k] and b[k]"
                )
            layers.append((jnp.asarray(w), jnp.asarray(b)))
            width = w.shape[1]
    if not layers or width != mpe_core.NUM_MOVE_ACTIONS:
        raise ValueError(
            f"prey_params_path {str(path)!r}: the MLP must end in "
            f"{mpe_core.NUM_MOVE_ACTIONS} logits, got {width} outputs"
        )
    return tuple(layers)


@dataclasses.dataclass(frozen=True, kw_only=True)
class WorldConfig:
    """The world of Simple-Tag: who is in it and for how long (shared by `SimpleTag` and
    `marta.envs.simple_tag_prey.SimpleTagPrey`, which differ in who learns)."""

    num_predators: int = 3
    """predators (mpe2 num_adversaries)"""
    num_prey: int = 1
    """prey (mpe2 num_good)"""
    num_obstacles: int = 2
    """fixed obstacles of radius 0.2 (mpe2 num_obstacles)"""
    max_steps: int = 25
    """steps per episode (mpe2 max_cycles)"""

    def __post_init__(self) -> None:
        minimum = {"num_predators": 1, "num_prey": 1, "num_obstacles": 0, "max_steps": 1}
        for name, low in minimum.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")

    def world_kwargs(self) -> dict[str, int]:
        """The `WorldConfig` fields only (to build the world of another Simple-Tag view)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(WorldConfig)}


class SimpleTag(MultiAgentEnv):
    """MPE Simple-Tag: a team of predators (the learning team) chases prey driven by a fixed
    policy."""

    episode_counters = {"captures": "captures"}

    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Config(WorldConfig):
        prey_policy: PreyPolicy = "heuristic"
        """fixed prey behaviour: random, frozen (no-op), heuristic (flee) or pretrained"""
        prey_avoids_boundary: bool = True
        """heuristic prey also minimises mpe2's boundary penalty (False: pure fleeing)"""
        prey_params_path: str = ""
        """.npz of the pretrained prey MLP; "" means marta/envs/assets/simple_tag_prey.npz"""

        def __post_init__(self) -> None:
            super().__post_init__()
            if self.prey_policy not in PREY_POLICIES:
                raise ValueError(
                    f"prey_policy must be one of {', '.join(PREY_POLICIES)}; "
                    f"got {self.prey_policy!r}"
                )

    def __init__(self, **kwargs) -> None:
        self.config = cfg = self.Config(**kwargs)
        self.num_predators, self.num_prey = cfg.num_predators, cfg.num_prey
        self.num_obstacles = cfg.num_obstacles
        n_pred, n_all = cfg.num_predators, cfg.num_predators + cfg.num_prey
        self.num_entities = n_all + cfg.num_obstacles
        is_pred = np.arange(self.num_entities) < n_pred
        is_agent = np.arange(self.num_entities) < n_all
        self.props = mpe_core.ParticleProps(
            size=jnp.asarray(
                np.where(is_pred, PREDATOR_SIZE, np.where(is_agent, PREY_SIZE, OBSTACLE_SIZE))
            ),
            mass=jnp.ones(self.num_entities),
            max_speed=jnp.asarray(
                np.where(is_pred, PREDATOR_MAX_SPEED, np.where(is_agent, PREY_MAX_SPEED, np.inf))
            ),
            accel=jnp.asarray(
                np.where(is_pred, PREDATOR_ACCEL, np.where(is_agent, PREY_ACCEL, 0.0))
            ),
            movable=jnp.asarray(is_agent),
            collide=jnp.ones(self.num_entities, bool),
        )
        # others[i]: every other agent of agent i, in entity order (mpe2's observation order)
        self._others = np.array([[j for j in range(n_all) if j != i] for i in range(n_all)])
        self._other_prey = np.array(
            [[j for j in range(n_pred, n_all) if j != i] for i in range(n_pred, n_all)],
            dtype=np.int64,
        ).reshape(cfg.num_prey, cfg.num_prey - 1)

        self._reset_scale = np.where(is_agent, 1.0, 0.9)[:, None]
        self.num_agents = n_pred
        self.num_actions = mpe_core.NUM_MOVE_ACTIONS
        self.obs_dim = 4 + 2 * cfg.num_obstacles + 2 * (n_all - 1) + 2 * cfg.num_prey
        self.prey_obs_dim = self.obs_dim - 2
        self.state_dim = 4 * self.num_entities
        self.max_steps = cfg.max_steps

        self._prey_mlp: tuple = ()
        if cfg.prey_policy == "pretrained":
            path = Path(cfg.prey_params_path) if cfg.prey_params_path else DEFAULT_PREY_PARAMS
            self._prey_mlp = load_prey_mlp(path, self.prey_obs_dim)
        self._prey_policy = {
            "random": self._random_prey,
            "frozen": self._frozen_prey,
            "heuristic": self._heuristic_prey,
            "pretrained": self._pretrained_prey,
        }[cfg.prey_policy]

    # ----------------------------------------------------------------- dynamics
    def reset_env(self, key: jax.Array) -> SimpleTagState:
        """Agents uniform in [-1, 1]^2, obstacles uniform in [-0.9, 0.9]^2, all at rest."""
        unit = jax.random.uniform(key, (self.num_entities, 2), minval=-1.0, maxval=1.0)
        pos = unit * self._reset_scale  # one draw: 0.9 * U[-1, 1] = U[-0.9, 0.9]
        return SimpleTagState(pos=pos, vel=jnp.zeros_like(pos))

    def step_all(
        self, state: SimpleTagState, predator_actions: jax.Array, prey_actions: jax.Array
    ) -> tuple[SimpleTagState, jax.Array, jax.Array]:
        """The joint transition of mpe2 simple_tag_v3 given every agent's discrete action.

        Args:
            state: world state.
            predator_actions: i32[num_predators] discrete actions (mpe2 order).
            prey_actions: i32[num_prey] discrete actions.

        Returns:
            (next state, predator rewards f32[num_predators], prey rewards f32[num_prey]),
            rewards computed on the next state as mpe2 does.
        """
        n_all = self.num_predators + self.num_prey
        actions = jnp.concatenate([predator_actions, prey_actions]).astype(jnp.int32)
        force = mpe_core.discrete_action_force(actions, self.props.accel[:n_all])
        pos, vel = mpe_core.world_step(state.pos, state.vel, force, self.props)
        next_state = SimpleTagState(pos=pos, vel=vel)
        caught = self._captures(next_state)  # bool[num_prey, num_predators]
        num_captures = caught.sum().astype(pos.dtype)
        predator_rewards = jnp.full((self.num_predators,), CAPTURE_REWARD * num_captures)
        prey_pos = pos[self.num_predators : n_all]
        prey_rewards = -CAPTURE_REWARD * caught.sum(axis=1) - boundary_penalty(prey_pos)
        return next_state, predator_rewards, prey_rewards.astype(pos.dtype)

    def _captures(self, state: SimpleTagState) -> jax.Array:
        """bool[num_prey, num_predators]: which predator touches which prey."""
        n_pred, n_all = self.num_predators, self.num_predators + self.num_prey
        return mpe_core.is_collision(
            state.pos[n_pred:n_all, None],
            self.props.size[n_pred:n_all, None],
            state.pos[None, :n_pred],
            self.props.size[None, :n_pred],
        )

    def step_env(self, key: jax.Array, state: SimpleTagState, actions: jax.Array) -> EnvStep:
        prey_actions = self.prey_actions(key, state)
        next_state, predator_rewards, prey_rewards = self.step_all(state, actions, prey_actions)
        extra = {
            "captures": self._captures(next_state).sum().astype(jnp.int32),
            "prey_actions": prey_actions,
            "prey_reward": prey_rewards,
        }
        return next_state, predator_rewards.sum(), jnp.zeros((), bool), extra

    # ----------------------------------------------------------------- prey policies
    def prey_actions(self, key: jax.Array, state: SimpleTagState) -> jax.Array:
        """i32[num_prey] actions of the configured prey policy in `state`."""
        return self._prey_policy(key, state).astype(jnp.int32)

    def _random_prey(self, key, state):
        del state
        return jax.random.randint(key, (self.num_prey,), 0, self.num_actions)

    def _frozen_prey(self, key, state):
        del key, state
        return jnp.zeros((self.num_prey,), jnp.int32)

    def _heuristic_prey(self, key, state):
        """Flee the nearest predator: maximise the predicted distance two steps ahead."""
        del key
        n_pred, n_all = self.num_predators, self.num_predators + self.num_prey
        prey_pos, prey_vel = state.pos[n_pred:n_all], state.vel[n_pred:n_all]
        pred_pos, pred_vel = state.pos[:n_pred], state.vel[:n_pred]
        dist = jnp.sum(jnp.square(prey_pos[:, None] - pred_pos[None]), axis=-1)  # [G, P]
        nearest = jax.nn.one_hot(jnp.argmin(dist, axis=1), n_pred, dtype=pred_pos.dtype)
        threat = nearest @ (pred_pos + 2.0 * mpe_core.DT * pred_vel)  # [G, 2]
        ahead = positions_after_each_action(prey_pos, prey_vel, PREY_ACCEL, PREY_MAX_SPEED)
        score = jnp.linalg.norm(ahead - threat[:, None], axis=-1)  # [G, 5]
        if self.config.prey_avoids_boundary:
            score = score - boundary_penalty(ahead)
        return jnp.argmax(score, axis=1)

    def _pretrained_prey(self, key, state):
        del key
        h = self.prey_observations(state)
        for w, b in self._prey_mlp[:-1]:
            h = jax.nn.relu(h @ w + b)
        w, b = self._prey_mlp[-1]
        return jnp.argmax(h @ w + b, axis=-1)

    # ----------------------------------------------------------------- observations
    def _observations(self, state: SimpleTagState, agents: np.ndarray, seen_vel) -> jax.Array:
        """mpe2 observations of `agents` (entity indices); seen_vel: i32[len, k] velocities."""
        n_all = self.num_predators + self.num_prey
        pos, vel = state.pos, state.vel
        own = pos[agents][:, None]  # [n, 1, 2]
        parts = [
            vel[agents],
            pos[agents],
            (pos[None, n_all:] - own).reshape(len(agents), -1),
            (pos[self._others[agents]] - own).reshape(len(agents), -1),
            vel[seen_vel].reshape(len(agents), -1),
        ]
        return jnp.concatenate(parts, axis=-1)

    def observe(self, state: SimpleTagState) -> jax.Array:
        """Predator observations f32[num_predators, obs_dim] (mpe2 adversary layout)."""
        predators = np.arange(self.num_predators)
        prey = np.arange(self.num_predators, self.num_predators + self.num_prey)
        return self._observations(state, predators, np.tile(prey, (self.num_predators, 1)))

    def prey_observations(self, state: SimpleTagState) -> jax.Array:
        """Prey observations f32[num_prey, obs_dim - 2] (mpe2 good-agent layout)."""
        prey = np.arange(self.num_predators, self.num_predators + self.num_prey)
        return self._observations(state, prey, self._other_prey)

    def global_state_of(self, state: SimpleTagState) -> jax.Array:
        """f32[4 * num_entities]: all positions then all velocities, in entity order."""
        return jnp.concatenate([state.pos.ravel(), state.vel.ravel()])


register(
    "mpe-simple-tag",
    SimpleTag,
    "MPE simple tag (mpe2 v3 dynamics): 3 predators (team) vs 1 heuristic prey, 2 obstacles",
    num_predators=3,
    num_prey=1,
    num_obstacles=2,
)
