"""The Switcher's input and its choice mask.

In MARTA the team policy pi proposes a joint action a_t and the Adversary sigma proposes
fault actions f_t; "these joint actions are then observed by the policy g" (paper, "The MARTA
Framework"), and Algorithm 3 samples g_t ~ g(. | s_t, f_t, a_t) with s_t = (s_t, y_t) holding
the remaining budget y_t in MARTA-B. The Switcher's input is therefore

    x_t = [ global state s_t | onehot(a_t) | onehot(f_t) | y_t / n  (MARTA-B only) ].

Its choices are {0: no fault} U {1..N: agent i malfunctions}; `switcher_mask` forbids the
fault choices once the budget is spent.

All functions accept any leading batch axes and work under jit/vmap.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def feature_dim(state_dim: int, num_agents: int, num_actions: int, use_budget: bool) -> int:
    """Length of the Switcher's input vector built by `switcher_features`.

    Args:
        state_dim: length of the environment's global state.
        num_agents: N, agents in the team.
        num_actions: actions per agent.
        use_budget: whether the remaining budget fraction is appended (MARTA-B).

    Returns:
        state_dim + 2 * N * num_actions + (1 if use_budget else 0).
    """
    for name, value in (
        ("state_dim", state_dim),
        ("num_agents", num_agents),
        ("num_actions", num_actions),
    ):
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value!r}")
    return state_dim + 2 * num_agents * num_actions + int(bool(use_budget))


def switcher_features(
    global_state: jax.Array,
    team_actions: jax.Array,
    fault_actions: jax.Array,
    num_actions: int,
    budget_fraction: jax.Array | float | None = None,
) -> jax.Array:
    """Builds the Switcher's input x = [s | onehot(a) | onehot(f) | y/n].

    Args:
        global_state: f32[..., state_dim] environment global state s_t.
        team_actions: i32[..., N] joint action a_t proposed by the team policy pi.
        fault_actions: i32[..., N] fault actions f_t proposed by the Adversary sigma.
        num_actions: actions per agent (size of each one-hot block).
        budget_fraction: f32[...] remaining budget fraction y_t / n in [0, 1] (clipped), for
            MARTA-B; None (the default) for plain MARTA. This is a Python-level choice: the
            output length differs, see `feature_dim`.

    Returns:
        f32[..., feature_dim] Switcher input.
    """
    batch_shape = team_actions.shape[:-1]

    def flat_one_hot(actions: jax.Array) -> jax.Array:
        one_hot = jax.nn.one_hot(actions, num_actions, dtype=jnp.float32)
        return one_hot.reshape(*batch_shape, -1)

    parts = [
        jnp.asarray(global_state, jnp.float32),
        flat_one_hot(team_actions),
        flat_one_hot(fault_actions),
    ]
    if budget_fraction is not None:
        fraction = jnp.clip(jnp.asarray(budget_fraction, jnp.float32), 0.0, 1.0)
        parts.append(jnp.broadcast_to(fraction, batch_shape)[..., None])
    return jnp.concatenate(parts, axis=-1)


def switcher_mask(num_agents: int, budget_left: jax.Array | int | None = None) -> jax.Array:
    """Allowed Switcher choices: "no fault" always, faults only while budget remains.

    Args:
        num_agents: N; the mask has N + 1 entries (choice 0 = no fault, i = agent i fails).
        budget_left: i32[...] remaining activations y_t (MARTA-B), or None when there is no
            budget (every choice allowed).

    Returns:
        bool[..., N + 1] mask; entry 0 is always True.
    """
    if budget_left is None:
        return jnp.ones((num_agents + 1,), bool)
    budget_left = jnp.asarray(budget_left)
    faults_allowed = jnp.broadcast_to(
        (budget_left > 0)[..., None], (*budget_left.shape, num_agents)
    )
    no_fault = jnp.ones((*budget_left.shape, 1), bool)
    return jnp.concatenate([no_fault, faults_allowed], axis=-1)
