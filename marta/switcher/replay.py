"""A flat, fixed-capacity transition replay buffer for the Switcher, in pure JAX.

The Switcher is trained off-policy from its own replay buffer B_g (paper, Algorithm 1 line 3:
"use Replay Buffer for SAC"). A buffer is a NamedTuple of three pure functions, usable inside
`jax.jit` and `jax.lax.scan`::

    buffer = make_switcher_buffer(capacity)
    state = buffer.init(example_transition)        # storage of `capacity` zeros
    state = buffer.add(state, transitions)         # transitions with a leading batch axis [B]
    batch = buffer.sample(key, state, batch_size)  # uniform over the stored transitions

When full, the oldest transitions are overwritten first (ring buffer). Sampling from an
empty buffer returns the zero-initialised slot; gate updates on `state.size` with `lax.cond`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
from flax import struct


@struct.dataclass
class SwitcherTransition:
    """One Switcher transition (s_t, g_t, r_S, s_{t+1}); add a leading axis for batches.

    Attributes:
        features: f32[F] Switcher input x_t (see `switcher_features`).
        mask: bool[C] choices allowed at x_t.
        choice: i32[] Switcher choice g_t (0 = no fault, i = agent i malfunctions).
        switcher_reward: f32[] r_S = -r - c * 1[g != 0] (see `switcher_reward`).
        next_features: f32[F] Switcher input x_{t+1} (of the *final* state on episode end).
        next_mask: bool[C] choices allowed at x_{t+1}.
        terminated: bool[] true terminal at t+1 (no bootstrap); False on time-limit truncation.
    """

    features: jax.Array
    mask: jax.Array
    choice: jax.Array
    switcher_reward: jax.Array
    next_features: jax.Array
    next_mask: jax.Array
    terminated: jax.Array


@struct.dataclass
class BufferState:
    """Storage of a `SwitcherBuffer`.

    Attributes:
        data: the stored transitions, each leaf with leading axis [capacity].
        position: i32[] slot the next transition is written to.
        size: i32[] number of valid transitions, at most capacity.
    """

    data: SwitcherTransition
    position: jax.Array
    size: jax.Array


class SwitcherBuffer(NamedTuple):
    """Pure functions of a ring replay buffer of `SwitcherTransition`s."""

    init: Callable[[SwitcherTransition], BufferState]
    add: Callable[[BufferState, SwitcherTransition], BufferState]
    sample: Callable[[jax.Array, BufferState, int], SwitcherTransition]


def make_switcher_buffer(capacity: int) -> SwitcherBuffer:
    """Builds a ring replay buffer holding `capacity` transitions.

    Args:
        capacity: number of transitions kept (>= 1).

    Returns:
        A `SwitcherBuffer` of pure functions; see the module docstring.
    """
    if not isinstance(capacity, int) or capacity < 1:
        raise ValueError(f"capacity must be an int >= 1, got {capacity!r}")

    def init(example: SwitcherTransition) -> BufferState:
        """Zero storage shaped like one (unbatched) example transition."""
        data = jax.tree.map(
            lambda leaf: jnp.zeros((capacity, *jnp.shape(leaf)), jnp.asarray(leaf).dtype),
            example,
        )
        return BufferState(
            data=data, position=jnp.zeros((), jnp.int32), size=jnp.zeros((), jnp.int32)
        )

    def add(state: BufferState, transitions: SwitcherTransition) -> BufferState:
        """Writes a batch of transitions (leading axis [B], B <= capacity) in order."""
        num_new = jax.tree.leaves(transitions)[0].shape[0]
        if num_new > capacity:
            raise ValueError(f"cannot add {num_new} transitions to a buffer of {capacity}")
        slots = (state.position + jnp.arange(num_new)) % capacity
        data = jax.tree.map(
            lambda stored, new: stored.at[slots].set(new.astype(stored.dtype)),
            state.data,
            transitions,
        )
        return BufferState(
            data=data,
            position=(state.position + num_new) % capacity,
            size=jnp.minimum(state.size + num_new, capacity),
        )

    def sample(key: jax.Array, state: BufferState, batch_size: int) -> SwitcherTransition:
        """Samples `batch_size` stored transitions uniformly, with replacement."""
        indices = jax.random.randint(key, (batch_size,), 0, jnp.maximum(state.size, 1))
        return jax.tree.map(lambda stored: stored[indices], state.data)

    return SwitcherBuffer(init=init, add=add, sample=sample)
