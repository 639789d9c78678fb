"""One value-decomposition learner for IQL, VDN and QMIX, parameterised by a mixer.

How to read this file (top to bottom):

1. `AgentCarry`, `LearnerState`, `Learner`: the named types; a learner is a NamedTuple of pure
   functions (STYLE.md L1/L2), built once by `make_value_learner(config, spec, mixer)`.
2. `agent_inputs`, `episode_q`: the shared recurrent agent network applied to one step
   (acting) or to whole padded episodes (learning).
3. `target_agent_values`, `td_targets`: the (double-)Q bootstrap values with available-action
   masking and the one-step / TD(lambda) targets, with termination kept apart from
   truncation. They are module-level pure functions so tests can check them by hand.
4. `make_value_learner`: `init`, `initial_carry`, `act`, `update` closed over the static
   sizes, the mixer module, the optimiser (``optax.chain`` of global-norm clipping and Adam)
   and the target-update rule (hard copy or Polyak, chosen once, not an ``if`` per step).

The loss is the masked mean squared TD error of PyMARL/EPyMARL's ``QLearner``:

.. math::
    \\mathcal{L}(\\theta) = \\frac{1}{|\\mathcal{M}|} \\sum_{(b,t,k) \\in \\mathcal{M}}
        \\big(y_{b,t,k} - Q^{k}_{mix}(\\mathbf{q}_{b,t}(\\mathbf{a}; \\theta), s_{b,t})\\big)^2,
    \\qquad y_t = r_t + \\gamma (1 - d_t)\\, Q^{k}_{mix}(\\bar{\\mathbf{q}}_{t+1}, s_{t+1};
        \\theta^-),

(QMIX, Rashid et al. 2018, Eq. 6) where :math:`d_t` is *termination* only (a time-limit end
bootstraps from the stored final observation), :math:`\\bar q^i_{t+1} = q^i(\\tau_{t+1},
\\arg\\max_{a \\in \\mathcal{A}^i_{t+1}} q^i(\\tau_{t+1}, a; \\theta); \\theta^-)` with double Q
(van Hasselt et al., 2016) over the *available* actions, and k runs over the mixer outputs
(N per-agent values for IQL, one Q_tot for VDN/QMIX).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from flax import struct

from marta.learners.config import ValueLearnerConfig, resolve_input_scale
from marta.learners.networks import MIXERS, AgentNetwork
from marta.learners.replay import Episode
from marta.learners.trim import cut_value_and_grad
from marta.validation import lookup

#: masked-out Q-value: finite, so that padding never produces NaN/inf in the loss
MASKED_Q = -1e9


@struct.dataclass
class AgentCarry:
    """Recurrent state of all agents of one environment.

    Attributes:
        hidden: f32[N, hidden_dim] GRU state.
        last_action: i32[N] previous action, -1 at the start of an episode (one-hot of -1
            is all zeros).
    """

    hidden: jax.Array
    last_action: jax.Array


def start_carry(num_agents: int, hidden_dim: int) -> AgentCarry:
    """The agents' recurrent state at an episode's start: zero hidden state, no last action."""
    return AgentCarry(
        hidden=jnp.zeros((num_agents, hidden_dim), jnp.float32),
        last_action=jnp.full((num_agents,), -1, jnp.int32),
    )


def check_env_spec(spec: Mapping[str, int], given: Mapping[str, int] | None) -> None:
    """Refuses an env spec (if given) that differs from the one the learner was built for."""
    if given is not None:
        given = {k: int(given[k]) for k in spec}
        if given != dict(spec):
            raise ValueError(f"env_spec {given} differs from the learner's {dict(spec)}")


@struct.dataclass
class LearnerState:
    """Everything a value learner needs to act and continue training.

    Attributes:
        params: {"agent": agent-network params, "mixer": mixer params}.
        target_params: target-network copy of `params`.
        opt_state: optimiser state.
        env_steps: i32[] environment steps seen; drives the epsilon schedule.
        updates: i32[] gradient updates done; drives hard target updates.
    """

    params: Any
    target_params: Any
    opt_state: Any
    env_steps: jax.Array
    updates: jax.Array


class Learner(NamedTuple):
    """A learner: pure functions over `LearnerState` (STYLE.md L1).

    Attributes:
        init: ``init(key, env_spec=None) -> LearnerState``.
        initial_carry: ``initial_carry(num_agents=None) -> AgentCarry`` (episode start).
        act: ``act(key, state, obs f32[N, obs_dim], carry, avail bool[N, A], explore)
            -> (actions i32[N], q f32[N, A], carry)``; `q` are the raw per-agent Q-values
            (unavailable actions are *not* masked in `q`, only in the choice).
        q_values: ``q_values(params, obs, carry) -> (q f32[N, A], carry)`` greedy helper.
        epsilon: ``epsilon(state) -> f32[]`` current exploration rate.
        update: ``update(key, state, batch: Episode[B]) -> (state, metrics)``.
        loss: ``loss(params, target_params, batch) -> (loss, aux)`` (for tests/analysis).
        config: the learner's config (the trainer reads batch_size and buffer_size).
        spec: the static environment sizes the learner was built for.
    """

    init: Callable[..., LearnerState]
    initial_carry: Callable[..., AgentCarry]
    act: Callable[..., tuple[jax.Array, jax.Array, AgentCarry]]
    q_values: Callable[..., tuple[jax.Array, AgentCarry]]
    epsilon: Callable[[LearnerState], jax.Array]
    update: Callable[..., tuple[LearnerState, dict[str, jax.Array]]]
    loss: Callable[..., tuple[jax.Array, dict[str, jax.Array]]]
    config: ValueLearnerConfig
    spec: Mapping[str, int]


# ----------------------------------------------------------------------------- targets
def target_agent_values(
    q_online_next: jax.Array, q_target_next: jax.Array, avail_next: jax.Array, double_q: bool
) -> jax.Array:
    """Per-agent bootstrap values at t+1, maximising only over available actions.

    Args:
        q_online_next: f32[..., N, A] online-network Q at t+1 (used by double Q).
        q_target_next: f32[..., N, A] target-network Q at t+1.
        avail_next: bool[..., N, A] available actions at t+1.
        double_q: pick the action with the online network (van Hasselt et al., 2016).

    Returns:
        f32[..., N]: :math:`q^-(\\arg\\max_a q(a))` (double Q) or :math:`\\max_a q^-(a)`.
    """
    if double_q:
        best = jnp.argmax(jnp.where(avail_next, q_online_next, MASKED_Q), axis=-1)
        return jnp.take_along_axis(q_target_next, best[..., None], axis=-1)[..., 0]
    return jnp.max(jnp.where(avail_next, q_target_next, MASKED_Q), axis=-1)


def td_targets(
    reward: jax.Array,
    terminated: jax.Array,
    filled: jax.Array,
    next_values: jax.Array,
    gamma: float,
    td_lambda: float = 0.0,
) -> jax.Array:
    """TD(lambda) targets over padded episodes (one-step targets for lambda = 0).

    .. math::
        G^\\lambda_t = r_t + \\gamma (1 - d_t) \\big[(1 - \\lambda) V_{t+1}
            + \\lambda G^\\lambda_{t+1}\\big],

    where :math:`G^\\lambda_{t+1}` is replaced by :math:`V_{t+1}` when step t is the last of
    its episode (Sutton & Barto, 2018, Eq. 12.3, recursive form; as in PyMARL2's
    ``build_td_lambda_targets``). :math:`d_t` is termination: a truncated episode bootstraps
    from :math:`V` of its final observation.

    Args:
        reward: f32[B, T]; terminated: bool[B, T]; filled: bool[B, T].
        next_values: f32[B, T, K] bootstrap values V_{t+1} (mixed target values).
        gamma: discount; td_lambda: lambda in [0, 1].

    Returns:
        f32[B, T, K] targets (meaningful where `filled`).
    """
    not_done = 1.0 - terminated.astype(jnp.float32)
    next_filled = jnp.concatenate([filled[:, 1:], jnp.zeros_like(filled[:, :1])], axis=1)

    def backward(g_next, xs):
        r, nd, v_next, nf = xs
        boot = jnp.where(nf[:, None], (1.0 - td_lambda) * v_next + td_lambda * g_next, v_next)
        g = r[:, None] + gamma * nd[:, None] * boot
        return g, g

    time_major = (reward.T, not_done.T, jnp.swapaxes(next_values, 0, 1), next_filled.T)
    _, g = jax.lax.scan(backward, jnp.zeros_like(next_values[:, 0]), time_major, reverse=True)
    return jnp.swapaxes(g, 0, 1)


def episode_ends(filled: jax.Array) -> jax.Array:
    """bool[B, T]: the last real step of every episode (terminal *or* truncated)."""
    next_filled = jnp.concatenate([filled[:, 1:], jnp.zeros_like(filled[:, :1])], axis=1)
    return filled & ~next_filled


def masked_td_loss(
    q: jax.Array, targets: jax.Array, filled: jax.Array
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Mean squared TD error over the filled steps, \\(\\sum m (q - y)^2 / \\sum m\\).

    Args:
        q: f32[B, T] or f32[B, T, N] value of the taken action(s).
        targets: same shape; treated as constants (no gradient flows into them).
        filled: bool[B, T] padding mask of the episode batch.

    Returns:
        (loss, aux) with aux = {q_taken_mean, target_mean, td_abs_mean} over filled steps.
    """
    mask = jnp.broadcast_to(filled.reshape(filled.shape + (1,) * (q.ndim - 2)), q.shape)
    mask = mask.astype(jnp.float32)
    td = (q - jax.lax.stop_gradient(targets)) * mask
    count = jnp.maximum(mask.sum(), 1.0)
    aux = {
        "q_taken_mean": (q * mask).sum() / count,
        "target_mean": (targets * mask).sum() / count,
        "td_abs_mean": jnp.abs(td).sum() / count,
    }
    return jnp.sum(td**2) / count, aux


# ----------------------------------------------------------------------------- learner
def agent_inputs(
    obs: jax.Array,
    last_action: jax.Array,
    num_actions: int,
    config: ValueLearnerConfig,
    obs_scale: float,
) -> jax.Array:
    """Agent-network input: obs * obs_scale ++ agent-id one-hot ++ previous-action one-hot
    (PyMARL).

    Args:
        obs: f32[..., N, obs_dim]; last_action: i32[..., N] (-1 = none).
        obs_scale: the resolved `ValueLearnerConfig.obs_scale` (see `resolve_input_scale`).

    Returns:
        f32[..., N, input_dim].
    """
    parts = [obs * obs_scale]
    num_agents = obs.shape[-2]
    if config.obs_agent_id:
        parts.append(
            jnp.broadcast_to(jnp.eye(num_agents, dtype=obs.dtype), (*obs.shape[:-1], num_agents))
        )
    if config.obs_last_action:
        parts.append(jax.nn.one_hot(last_action, num_actions, dtype=obs.dtype))
    return jnp.concatenate(parts, axis=-1)


_TARGET_UPDATES: dict[str, Callable[[ValueLearnerConfig], Callable[..., Any]]] = {
    "hard": lambda c: (
        lambda new, old, updates: optax.periodic_update(new, old, updates, c.target_update_interval)
    ),
    "polyak": lambda c: lambda new, old, updates: optax.incremental_update(new, old, c.tau),
}


def make_value_learner(
    config: ValueLearnerConfig, env_spec: Mapping[str, int], mixer: str
) -> Learner:
    """Builds the value-decomposition learner.

    Args:
        config: hyperparameters.
        env_spec: static sizes (``num_agents``, ``num_actions``, ``obs_dim``, ``state_dim``),
            e.g. ``env.spec``.
        mixer: key of `marta.learners.networks.MIXERS` (``none`` = IQL, ``sum`` = VDN,
            ``qmix`` = QMIX).

    Returns:
        the `Learner`.
    """
    spec = {k: int(env_spec[k]) for k in ("num_agents", "num_actions", "obs_dim", "state_dim")}
    state_scale = resolve_input_scale(config.state_scale, env_spec, "state_scale")
    obs_scale = resolve_input_scale(config.obs_scale, env_spec, "obs_scale")
    n, num_actions = spec["num_agents"], spec["num_actions"]
    agent = AgentNetwork(hidden_dim=config.hidden_dim, num_actions=num_actions)
    mixer_kwargs = (
        {"embed_dim": config.mixer_embed_dim, "hypernet_embed_dim": config.hypernet_embed_dim}
        if mixer == "qmix"
        else {}
    )
    mix: nn.Module = lookup(MIXERS, mixer, "mixer")(**mixer_kwargs)
    tx = optax.chain(
        optax.clip_by_global_norm(config.grad_clip),
        optax.adam(config.lr, eps=config.adam_eps),
    )
    epsilon_schedule = optax.linear_schedule(
        config.epsilon_start, config.epsilon_finish, config.epsilon_anneal_steps
    )
    target_update = _TARGET_UPDATES[config.target_update](config)

    def initial_carry(num_agents: int | None = None) -> AgentCarry:
        return start_carry(n if num_agents is None else num_agents, config.hidden_dim)

    def init(key: jax.Array, env_spec_check: Mapping[str, int] | None = None) -> LearnerState:
        check_env_spec(spec, env_spec_check)
        key_agent, key_mixer = jax.random.split(key)
        carry = initial_carry()
        obs = jnp.zeros((n, spec["obs_dim"]), jnp.float32)
        params = {
            "agent": agent.init(
                key_agent,
                carry.hidden,
                agent_inputs(obs, carry.last_action, num_actions, config, obs_scale),
            ),
            "mixer": mix.init(
                key_mixer, jnp.zeros((n,), jnp.float32), jnp.zeros((spec["state_dim"],))
            ),
        }
        return LearnerState(
            params=params,
            target_params=params,
            opt_state=tx.init(params),
            env_steps=jnp.zeros((), jnp.int32),
            updates=jnp.zeros((), jnp.int32),
        )

    def q_values(params: Any, obs: jax.Array, carry: AgentCarry) -> tuple[jax.Array, AgentCarry]:
        inputs = agent_inputs(obs, carry.last_action, num_actions, config, obs_scale)
        hidden, q = agent.apply(params["agent"], carry.hidden, inputs)
        return q, carry.replace(hidden=hidden)

    def epsilon(state: LearnerState) -> jax.Array:
        return jnp.asarray(epsilon_schedule(state.env_steps), jnp.float32)

    def act(
        key: jax.Array,
        state: LearnerState,
        obs: jax.Array,
        carry: AgentCarry,
        avail: jax.Array,
        explore: bool | jax.Array = True,
    ) -> tuple[jax.Array, jax.Array, AgentCarry]:
        key_random, key_coin = jax.random.split(key)
        q, carry = q_values(state.params, obs, carry)
        greedy = jnp.argmax(jnp.where(avail, q, MASKED_Q), axis=-1)
        random = jax.random.categorical(key_random, jnp.where(avail, 0.0, -jnp.inf))
        eps = jnp.where(explore, epsilon(state), 0.0)
        explore_i = jax.random.uniform(key_coin, (obs.shape[0],)) < eps
        actions = jnp.where(explore_i, random, greedy).astype(jnp.int32)
        return actions, q, carry.replace(last_action=actions)

    def episode_q(agent_params: Any, batch: Episode) -> jax.Array:
        """Q-values f32[B, T+1, N, A] of whole episodes, GRU carry reset at t = 0."""
        prev_actions = jnp.concatenate(
            [jnp.full_like(batch.actions[:, :1], -1), batch.actions], axis=1
        )
        inputs = agent_inputs(batch.obs, prev_actions, num_actions, config, obs_scale)
        hidden0 = jnp.zeros((*inputs.shape[:1], n, config.hidden_dim), jnp.float32)

        def step(hidden, x):
            return agent.apply(agent_params, hidden, x)

        _, q = jax.lax.scan(step, hidden0, jnp.swapaxes(inputs, 0, 1))
        return jnp.swapaxes(q, 0, 1)

    def loss(params: Any, target_params: Any, batch: Episode):
        q = episode_q(params["agent"], batch)
        q_target = jax.lax.stop_gradient(episode_q(target_params["agent"], batch))
        q_taken = jnp.take_along_axis(q[:, :-1], batch.actions[..., None], axis=-1)[..., 0]
        next_i = target_agent_values(
            jax.lax.stop_gradient(q[:, 1:]), q_target[:, 1:], batch.avail[:, 1:], config.double_q
        )
        state = batch.state * state_scale
        q_mix = mix.apply(params["mixer"], q_taken, state[:, :-1])
        next_mix = mix.apply(target_params["mixer"], next_i, state[:, 1:])
        targets = td_targets(
            batch.reward * config.reward_scale,
            batch.terminated if config.bootstrap_on_truncation else episode_ends(batch.filled),
            batch.filled,
            next_mix,
            config.gamma,
            config.td_lambda,
        )
        return masked_td_loss(q_mix, targets, batch.filled)

    loss_and_grad = cut_value_and_grad(
        loss, config.length_buckets, config.min_bucket_length, config.length_groups
    )

    def update(
        key: jax.Array, state: LearnerState, batch: Episode
    ) -> tuple[LearnerState, dict[str, jax.Array]]:
        del key  # the update is deterministic given the batch
        (value, aux), grads = loss_and_grad(state.params, state.target_params, batch)
        step, opt_state = tx.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, step)
        updates = state.updates + 1
        new_state = state.replace(
            params=params,
            target_params=target_update(params, state.target_params, updates),
            opt_state=opt_state,
            updates=updates,
        )
        return new_state, {"loss": value, "grad_norm": optax.global_norm(grads), **aux}

    return Learner(
        init=init,
        initial_carry=initial_carry,
        act=act,
        q_values=q_values,
        epsilon=epsilon,
        update=update,
        loss=loss,
        config=config,
        spec=spec,
    )
