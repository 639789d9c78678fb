"""Particle physics of the Multi-Agent Particle Environments (MPE), as pure JAX functions.

How to read this file: a particle world is a set of entities (agents first, then landmarks)
with static properties (`ParticleProps`: size, mass, max speed, acceleration, movable,
collide) and a dynamic state (positions and velocities, f32[E, 2]). `world_step` is one
physics step of `mpe2._mpe_utils.core.World.step` (Lowe et al. 2017; Mordatch & Abbeel 2017),
written with arrays over entities instead of Python loops:

1. action force of each agent, from a discrete action (`discrete_action_force`) exactly as
   `mpe2._mpe_utils.simple_env.SimpleEnv._set_action`: a unit direction times the agent's
   ``accel`` (mpe2's "sensitivity"), no motor noise;
2. soft contact forces between every pair of colliding entities (`contact_forces`):

   .. math:: f_{ab} = c \\, \\frac{p_a - p_b}{\\lVert p_a - p_b \\rVert} \\,
             k \\log\\bigl(1 + e^{-(\\lVert p_a - p_b \\rVert - (s_a + s_b)) / k}\\bigr)

   with contact force :math:`c = 100` and margin :math:`k = 10^{-3}`; entity *a* receives
   :math:`+f_{ab}`, *b* receives :math:`-f_{ab}`, and only movable entities are pushed;
3. semi-implicit integration (`integrate`), in mpe2's order: the position moves with the
   *old* velocity, then the velocity is damped, accelerated by force / mass and clipped to
   the entity's max speed.

Every function here is pure and shape-polymorphic in the number of entities, so it works
under `jax.jit`, `jax.vmap` and `jax.lax.scan`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

#: mpe2 world constants (`World.__init__`)
DT = 0.1
DAMPING = 0.25
CONTACT_FORCE = 1e2
CONTACT_MARGIN = 1e-3

#: unit direction of each discrete movement action, in mpe2's order
#: (0 no-op, 1 left, 2 right, 3 down, 4 up)
ACTION_DIRECTIONS = np.array([[0, 0], [-1, 0], [1, 0], [0, -1], [0, 1]], dtype=np.float32)
NUM_MOVE_ACTIONS = len(ACTION_DIRECTIONS)


@struct.dataclass
class ParticleProps:
    """Static properties of the entities of a particle world, agents first.

    Attributes:
        size: f32[E] radius.
        mass: f32[E] mass (mpe2's ``initial_mass``, 1.0 for every entity).
        max_speed: f32[E] speed limit; ``inf`` where mpe2 has ``None``.
        accel: f32[E] action sensitivity (force per unit action); 0 for landmarks.
        movable: bool[E] whether the entity integrates forces (agents) or is fixed.
        collide: bool[E] whether the entity takes part in contact forces.
    """

    size: jax.Array
    mass: jax.Array
    max_speed: jax.Array
    accel: jax.Array
    movable: jax.Array
    collide: jax.Array


def discrete_action_force(actions: jax.Array, accel: jax.Array) -> jax.Array:
    """Action force of discrete movement actions, as mpe2's `_set_action`.

    Args:
        actions: i32[N] discrete actions in {0: no-op, 1: left, 2: right, 3: down, 4: up};
            an action outside [0, 5) is the no-op.
        accel: f32[N] each agent's acceleration (mpe2's sensitivity).

    Returns:
        f32[N, 2] force :math:`u = \\text{accel} \\cdot d(a)` with the unit direction d(a).
    """
    actions = jnp.where((actions >= 0) & (actions < NUM_MOVE_ACTIONS), actions, 0)
    return jnp.asarray(ACTION_DIRECTIONS)[actions] * accel[:, None]


def continuous_action_force(actions: jax.Array, accel: jax.Array) -> jax.Array:
    """Action force of mpe2's continuous actions (``continuous_actions=True``).

    mpe2 reads a 5-vector a in [0, 1] as :math:`u = \\text{accel} \\cdot (a_2 - a_1, a_4 - a_3)`,
    so the one-hot of a discrete action gives the same force as `discrete_action_force`.

    Args:
        actions: f32[N, 5] continuous actions.
        accel: f32[N] each agent's acceleration.

    Returns:
        f32[N, 2] force.
    """
    u = jnp.stack([actions[:, 2] - actions[:, 1], actions[:, 4] - actions[:, 3]], axis=-1)
    return u * accel[:, None]


def pairwise_delta(pos: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Pairwise displacements and distances.

    Args:
        pos: f32[E, 2] positions.

    Returns:
        (delta f32[E, E, 2] with delta[a, b] = pos[a] - pos[b], dist f32[E, E]).
    """
    delta = pos[:, None, :] - pos[None, :, :]
    return delta, jnp.sqrt(jnp.sum(jnp.square(delta), axis=-1))


def _softplus(x: jax.Array) -> jax.Array:
    """log(1 + e^x) (mpe2's ``np.logaddexp(0, x)``), stable, fewer ops than jnp.logaddexp."""
    return jnp.maximum(x, 0.0) + jnp.log1p(jnp.exp(-jnp.abs(x)))


def contact_forces(pos: jax.Array, props: ParticleProps, num_rows: int | None = None) -> jax.Array:
    """Sum of mpe2's soft contact forces on entities (`World.apply_environment_force`).

    Args:
        pos: f32[E, 2] positions.
        props: static entity properties.
        num_rows: compute the force on the first `num_rows` entities only (default: all E).
            `world_step` passes the number of agents, as only agents move in MPE; this
            skips the obstacle rows, about 3x faster at batch 1024 on CPU.

    Returns:
        f32[num_rows, 2] total contact force on each of those entities; zero for entities
        that are not movable. Deliberate deviation: coincident entities exert no force on
        each other (mpe2 divides by their zero distance and gets NaN).
    """
    num = pos.shape[0]
    rows = num if num_rows is None else num_rows
    delta = pos[:rows, None, :] - pos[None, :, :]  # [rows, E, 2]: p_a - p_b
    dist = jnp.sqrt(jnp.sum(jnp.square(delta), axis=-1))
    pair = (props.collide[:rows, None] & props.collide[None, :]) & ~np.eye(rows, num, dtype=bool)
    safe_dist = jnp.where(pair & (dist > 0.0), dist, 1.0)
    dist_min = props.size[:rows, None] + props.size[None, :]
    penetration = _softplus(-(safe_dist - dist_min) / CONTACT_MARGIN) * CONTACT_MARGIN
    force = CONTACT_FORCE * delta / safe_dist[..., None] * penetration[..., None]
    force = jnp.where(pair[..., None], force, 0.0).sum(axis=1)
    return jnp.where(props.movable[:rows, None], force, 0.0)


def integrate(
    pos: jax.Array, vel: jax.Array, force: jax.Array, props: ParticleProps
) -> tuple[jax.Array, jax.Array]:
    """mpe2's `World.integrate_state`: move, damp, accelerate, clip speed (movable only).

    .. math:: p' = p + v\\,\\Delta t,\\qquad
              \\tilde v = (1 - \\text{damping})\\, v + \\frac{f}{m} \\Delta t,\\qquad
              v' = \\tilde v \\min\\bigl(1, v_{\\max} / \\lVert \\tilde v \\rVert\\bigr)

    Args:
        pos: f32[E, 2] positions.
        vel: f32[E, 2] velocities.
        force: f32[E, 2] total force on each entity.
        props: static properties of these E entities.

    Returns:
        (next positions f32[E, 2], next velocities f32[E, 2]).
    """
    new_pos = pos + vel * DT
    new_vel = vel * (1.0 - DAMPING) + force / props.mass[:, None] * DT
    speed = jnp.sqrt(jnp.sum(jnp.square(new_vel), axis=-1, keepdims=True))
    too_fast = speed > props.max_speed[:, None]
    clipped = new_vel / jnp.where(too_fast, speed, 1.0) * props.max_speed[:, None]
    new_vel = jnp.where(too_fast, clipped, new_vel)
    movable = props.movable[:, None]
    return jnp.where(movable, new_pos, pos), jnp.where(movable, new_vel, vel)


def world_step(
    pos: jax.Array, vel: jax.Array, action_force: jax.Array, props: ParticleProps
) -> tuple[jax.Array, jax.Array]:
    """One physics step of mpe2's `World.step` (no communication, no motor noise).

    The first N entities are the agents; the others (landmarks) are fixed, as in every MPE
    scenario (their `movable` flag is ignored).

    Args:
        pos: f32[E, 2] positions, agents first.
        vel: f32[E, 2] velocities.
        action_force: f32[N, 2] action force of the N agents.
        props: static entity properties.

    Returns:
        (next positions f32[E, 2], next velocities f32[E, 2]).
    """
    num_agents = action_force.shape[0]
    force = contact_forces(pos, props, num_agents) + action_force
    agent_props = jax.tree.map(lambda x: x[:num_agents], props)
    agent_pos, agent_vel = integrate(pos[:num_agents], vel[:num_agents], force, agent_props)
    return (
        jnp.concatenate([agent_pos, pos[num_agents:]]),
        jnp.concatenate([agent_vel, vel[num_agents:]]),
    )


def is_collision(
    pos_a: jax.Array, size_a: jax.Array, pos_b: jax.Array, size_b: jax.Array
) -> jax.Array:
    """mpe2's `is_collision`: distance strictly below the sum of the radii (broadcasts)."""
    dist = jnp.sqrt(jnp.sum(jnp.square(pos_a - pos_b), axis=-1))
    return dist < size_a + size_b
