"""MADDPG for discrete actions: Gumbel-softmax actors and a centralised critic.

How to read this file (top to bottom):

1. `MADDPGConfig`: every hyperparameter, defaults from EPyMARL's ``maddpg.yaml`` (see
   docs/learners.md, section MADDPG, for each value and its source).
2. `gumbel_softmax`, `soft_update`: the two pieces of MADDPG math that tests check by hand.
3. `MLP`: the feed-forward network used for the actor (A logits) and the critic (one value).
4. `make_maddpg_learner`: builds a `marta.learners.value.Learner` (the same NamedTuple as
   IQL/VDN/QMIX, so `marta.core.make_train` drives it unchanged) from the actor, the critic,
   two Adam optimisers with global-norm clipping and Polyak target updates.

MADDPG (Lowe et al., 2017) with the discrete-action treatment of EPyMARL's
``MADDPGLearner`` (Papoudakis et al., 2021). The actors are decentralised: one feed-forward
network shared by all agents, input :math:`o_i` ++ agent-id one-hot, output logits
:math:`\\pi_i` over the actions (unavailable actions masked to a large negative value).
The critic is centralised and per agent: :math:`Q_i(x, \\mathbf{a})` with
:math:`x` the global state or the joint observation (``critic_input``), the agent-id one-hot
and the joint action one-hot :math:`\\mathbf{a} = (a_1, \\dots, a_N)`. The critic minimises
(Lowe et al., 2017, Eq. 6)

.. math::
    \\mathcal{L}(\\phi) = \\mathbb{E}\\big[(Q_i(x_t, \\mathbf{a}_t; \\phi) - y_t)^2\\big],
    \\qquad y_t = r_t + \\gamma (1 - d_t)\\, Q_i(x_{t+1}, \\mathbf{a}'_{t+1}; \\phi^-),

where :math:`\\mathbf{a}'_{t+1}` is the one-hot greedy action of the *target* actors over the
available actions and :math:`d_t` is termination only (a time-limit end bootstraps). The
actors follow the deterministic policy gradient (Lowe et al., 2017, Eq. 5) through a
straight-through Gumbel-softmax sample :math:`\\tilde a_i` (Jang et al., 2017):

.. math::
    \\mathcal{L}(\\theta) = -\\mathbb{E}\\big[Q_i(x_t, \\tilde a_i(\\theta),
        \\mathrm{sg}(\\tilde{\\mathbf{a}}_{-i}))\\big]
        + \\mathrm{reg}\\; \\mathbb{E}\\big[\\pi_i(o_i; \\theta)^2\\big],

with the other agents' sampled actions held fixed (``sg`` = stop-gradient), as EPyMARL does.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from functools import partial
from typing import Any, Literal

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from marta.learners.config import resolve_state_scale
from marta.learners.networks import Linear
from marta.learners.replay import Episode
from marta.learners.value import (
    MASKED_Q,
    AgentCarry,
    Learner,
    LearnerState,
    agent_inputs,
    check_env_spec,
    episode_ends,
    masked_td_loss,
    start_carry,
    td_targets,
)
from marta.validation import require

CriticInput = Literal["joint_obs", "state"]
CRITIC_INPUTS: tuple[str, ...] = ("joint_obs", "state")


_check = partial(require, owner="MADDPGConfig")


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class MADDPGConfig:
    """Hyperparameters of MADDPG (defaults: EPyMARL ``maddpg.yaml`` + ``default.yaml``)."""

    lr: float = 5e-4
    """Adam learning rate of both actor and critic (maddpg.yaml lr 0.0005)"""
    adam_eps: float = 1e-8
    """Adam epsilon (torch.optim.Adam default, used by EPyMARL's maddpg_learner)"""
    gamma: float = 0.99
    """discount factor (default.yaml)"""
    batch_size: int = 16
    """episodes per gradient update (maddpg.yaml batch_size 16)"""
    buffer_size: int = 50_000
    """replay capacity in episodes (maddpg.yaml buffer_size 50000)"""
    tau: float = 0.01
    """Polyak step of the target networks after every update
    (maddpg.yaml target_update_interval_or_tau 0.01)"""
    gumbel_temperature: float = 1.0
    """temperature of the Gumbel-softmax relaxation in the actor loss (EPyMARL
    maddpg_controller ``gumbel_softmax`` default 1.0)"""
    reg: float = 1e-3
    """weight of the squared-logit regulariser of the actor loss (maddpg.yaml reg 0.001)"""
    grad_clip: float = 10.0
    """global gradient-norm clip, per network (default.yaml grad_norm_clip 10)"""
    hidden_dim: int = 128
    """width of both hidden layers of the actor and of the critic (maddpg.yaml 128)"""
    critic_input: CriticInput = "joint_obs"
    """what the centralised critic sees besides the joint action: 'joint_obs' (all agents'
    observations concatenated, Lowe et al. 2017; lets `act` return critic values) or 'state'
    (the env's global state, EPyMARL; `act` then returns actor logits, see docs)"""
    bootstrap_on_truncation: bool = True
    """bootstrap from the final observation at a time-limit end (EPyMARL behaviour)"""
    reward_scale: float = 1.0
    """constant multiplier applied to rewards in the critic target"""
    obs_scale: float = 1.0
    """constant multiplier of the observations (actor input and joint-observation critic)"""
    state_scale: float | None = None
    """constant multiplier of the global state fed to the critic (critic_input='state');
    None = the environment's ``state_scale`` (``env.spec``)"""
    obs_agent_id: bool = True
    """append the agent-id one-hot to the actor's and the critic's input (maddpg.yaml True)"""
    obs_last_action: bool = False
    """append the agent's previous action (one-hot) to the actor's input (maddpg.yaml False)"""

    def __post_init__(self) -> None:
        _check(self.lr > 0, "lr", "> 0", self.lr)
        _check(self.adam_eps > 0, "adam_eps", "> 0", self.adam_eps)
        _check(0.0 <= self.gamma <= 1.0, "gamma", "in [0, 1]", self.gamma)
        _check(self.batch_size >= 1, "batch_size", ">= 1", self.batch_size)
        _check(
            self.buffer_size >= self.batch_size,
            "buffer_size",
            f">= batch_size ({self.batch_size})",
            self.buffer_size,
        )
        _check(0.0 < self.tau <= 1.0, "tau", "in (0, 1]", self.tau)
        _check(self.gumbel_temperature > 0, "gumbel_temperature", "> 0", self.gumbel_temperature)
        _check(self.reg >= 0, "reg", ">= 0", self.reg)
        _check(self.grad_clip > 0, "grad_clip", "> 0", self.grad_clip)
        _check(self.hidden_dim >= 1, "hidden_dim", ">= 1", self.hidden_dim)
        _check(
            self.critic_input in CRITIC_INPUTS,
            "critic_input",
            f"one of {CRITIC_INPUTS}",
            self.critic_input,
        )
        for name in ("reward_scale", "obs_scale"):
            value = getattr(self, name)
            _check(value > 0, name, "> 0", value)
        _check(
            self.state_scale is None or self.state_scale > 0,
            "state_scale",
            "> 0 or None",
            self.state_scale,
        )


# ----------------------------------------------------------------------------- math
def gumbel_softmax(key: jax.Array, logits: jax.Array, temperature: float) -> jax.Array:
    """Straight-through Gumbel-softmax sample (Jang et al., 2017, Eq. 2; hard variant).

    The forward value is the one-hot of :math:`\\arg\\max_k (\\ell_k + g_k)` with
    :math:`g_k \\sim \\mathrm{Gumbel}(0, 1)` (an exact sample of
    :math:`\\mathrm{softmax}(\\ell)`); the gradient is that of the relaxed sample
    :math:`y = \\mathrm{softmax}((\\ell + g) / T)`.

    Args:
        key: PRNG key.
        logits: f32[..., A] (mask unavailable actions with a large negative value first).
        temperature: T > 0 of the relaxation.

    Returns:
        f32[..., A] one-hot values carrying the relaxed sample's gradient.
    """
    noisy = logits + jax.random.gumbel(key, logits.shape, logits.dtype)
    soft = jax.nn.softmax(noisy / temperature, axis=-1)
    hard = jax.nn.one_hot(jnp.argmax(noisy, axis=-1), logits.shape[-1], dtype=logits.dtype)
    return soft + jax.lax.stop_gradient(hard - soft)


def soft_update(online: Any, target: Any, tau: float) -> Any:
    """Polyak target update :math:`\\phi^- \\leftarrow \\tau \\phi + (1 - \\tau) \\phi^-`."""
    return optax.incremental_update(online, target, tau)


def masked_greedy(logits: jax.Array, avail: jax.Array) -> jax.Array:
    """i32[...]: argmax of `logits` f32[..., A] over the actions with ``avail`` true."""
    return jnp.argmax(jnp.where(avail, logits, MASKED_Q), axis=-1)


def per_agent_joint(own: jax.Array, others: jax.Array) -> jax.Array:
    """Joint actions seen by each agent's critic: own action i, the others' from `others`.

    Args:
        own: f32[..., N, A] the action one-hot agent i contributes for itself.
        others: f32[..., N, A] the actions used for every other agent j != i.

    Returns:
        f32[..., N, N * A]: row i is the flattened joint action (a_1 .. a_N) with
        a_i = own[i] and a_j = others[j] for j != i.
    """
    n, a = own.shape[-2:]
    diag = jnp.eye(n, dtype=bool)[:, :, None]
    joint = jnp.where(diag, own[..., None, :, :], others[..., None, :, :])
    return joint.reshape(*own.shape[:-2], n, n * a)


# ----------------------------------------------------------------------------- networks
class MLP(nn.Module):
    """Linear(h) -> ReLU -> Linear(h) -> ReLU -> Linear(out), PyTorch-style init.

    EPyMARL's ``MLPAgent`` (actor, out = A logits) and ``MADDPGCritic`` (out = 1).

    Attributes:
        hidden_dim: width of both hidden layers.
        out_dim: output width.
    """

    hidden_dim: int
    out_dim: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """f32[..., in] -> f32[..., out_dim]."""
        x = nn.relu(Linear(self.hidden_dim, name="fc1")(x))
        x = nn.relu(Linear(self.hidden_dim, name="fc2")(x))
        return Linear(self.out_dim, name="fc3")(x)


# ----------------------------------------------------------------------------- learner
def make_maddpg_learner(config: MADDPGConfig, env_spec: Mapping[str, int]) -> Learner:
    """Builds the MADDPG learner (same `Learner` contract as IQL/VDN/QMIX).

    Differences to the value learners, all within the contract: ``act`` samples a hard
    Gumbel-softmax action when exploring and takes the masked argmax of the actor's logits
    otherwise; its returned values ``q`` f32[N, A] are the centralised critic's
    :math:`Q_i(x, a_i = k, \\mathbf{a}_{-i} = \\pi_{-i})` with the other agents' greedy
    actions (``critic_input='joint_obs'``), or the actor's logits when the critic needs the
    global state, which ``act`` does not receive (``critic_input='state'``). ``epsilon`` is
    always 0; ``loss`` takes an optional PRNG key for the Gumbel noise; ``update`` uses its
    key. The carry has no recurrent state (``hidden`` has width 0): the actor is
    feed-forward, as EPyMARL's MADDPG (``use_rnn: False``).

    Args:
        config: hyperparameters.
        env_spec: static sizes (``num_agents``, ``num_actions``, ``obs_dim``, ``state_dim``).

    Returns:
        the `Learner`.
    """
    spec = {k: int(env_spec[k]) for k in ("num_agents", "num_actions", "obs_dim", "state_dim")}
    state_scale = resolve_state_scale(config.state_scale, env_spec)
    n, num_actions = spec["num_agents"], spec["num_actions"]
    actor = MLP(hidden_dim=config.hidden_dim, out_dim=num_actions)
    critic = MLP(hidden_dim=config.hidden_dim, out_dim=1)
    tx = optax.chain(
        optax.clip_by_global_norm(config.grad_clip),
        optax.adam(config.lr, eps=config.adam_eps),
    )
    critic_on_obs = config.critic_input == "joint_obs"

    def critic_x(obs: jax.Array, state: jax.Array) -> jax.Array:
        """Centralised input f32[..., X] from obs f32[..., N, obs_dim], state f32[..., S]."""
        if critic_on_obs:
            return (obs * config.obs_scale).reshape(*obs.shape[:-2], -1)
        return state * state_scale

    def critic_features(x: jax.Array, joint: jax.Array) -> jax.Array:
        """Critic input f32[..., N, X (+ N) + N*A]: x ++ agent id ++ joint action, per agent."""
        parts = [jnp.broadcast_to(x[..., None, :], (*joint.shape[:-1], x.shape[-1]))]
        if config.obs_agent_id:
            parts.append(jnp.broadcast_to(jnp.eye(n, dtype=x.dtype), (*joint.shape[:-1], n)))
        return jnp.concatenate([*parts, joint], axis=-1)

    def critic_values(critic_params: Any, x: jax.Array, joint: jax.Array) -> jax.Array:
        """Q_i f32[..., N] from x f32[..., X] and per-agent joint actions f32[..., N, N*A]."""
        return critic.apply(critic_params, critic_features(x, joint))[..., 0]

    def actor_logits(actor_params: Any, obs: jax.Array, last_action: jax.Array) -> jax.Array:
        """Unmasked logits f32[..., N, A]."""
        return actor.apply(
            actor_params, agent_inputs(obs, last_action, num_actions, config, config.obs_scale)
        )

    def action_values(params: Any, x: jax.Array, greedy: jax.Array) -> jax.Array:
        """:math:`Q_i(x, a_i = k, a_{-i} = \\text{greedy}_{-i})` f32[..., N, A]."""
        others = jax.nn.one_hot(greedy, num_actions, dtype=x.dtype)

        def for_action(k: jax.Array) -> jax.Array:
            own = jnp.broadcast_to(jax.nn.one_hot(k, num_actions, dtype=x.dtype), others.shape)
            return critic_values(params["critic"], x, per_agent_joint(own, others))

        return jnp.moveaxis(jax.vmap(for_action)(jnp.arange(num_actions)), 0, -1)

    def initial_carry(num_agents: int | None = None) -> AgentCarry:
        return start_carry(n if num_agents is None else num_agents, 0)  # feed-forward actors

    def init(key: jax.Array, env_spec_check: Mapping[str, int] | None = None) -> LearnerState:
        check_env_spec(spec, env_spec_check)
        key_actor, key_critic = jax.random.split(key)
        obs = jnp.zeros((n, spec["obs_dim"]), jnp.float32)
        x = critic_x(obs, jnp.zeros((spec["state_dim"],), jnp.float32))
        joint = jnp.zeros((n, n * num_actions), jnp.float32)
        params = {
            "actor": actor.init(
                key_actor,
                agent_inputs(
                    obs, initial_carry().last_action, num_actions, config, config.obs_scale
                ),
            ),
            "critic": critic.init(key_critic, critic_features(x, joint)),
        }
        return LearnerState(
            params=params,
            target_params=params,
            opt_state={"actor": tx.init(params["actor"]), "critic": tx.init(params["critic"])},
            env_steps=jnp.zeros((), jnp.int32),
            updates=jnp.zeros((), jnp.int32),
        )

    def policy_values(params: Any, obs: jax.Array, logits: jax.Array, avail: Any) -> jax.Array:
        """The values `act` returns: critic Q_i(x, a_i = k, greedy a_-i) or actor logits."""
        if not critic_on_obs:
            return logits
        x = critic_x(obs, jnp.zeros((spec["state_dim"],), obs.dtype))
        return action_values(params, x, masked_greedy(logits, avail))

    def q_values(params: Any, obs: jax.Array, carry: AgentCarry) -> tuple[jax.Array, AgentCarry]:
        logits = actor_logits(params["actor"], obs, carry.last_action)
        return policy_values(params, obs, logits, True), carry

    def epsilon(state: LearnerState) -> jax.Array:
        del state
        return jnp.zeros((), jnp.float32)

    def act(
        key: jax.Array,
        state: LearnerState,
        obs: jax.Array,
        carry: AgentCarry,
        avail: jax.Array,
        explore: bool | jax.Array = True,
    ) -> tuple[jax.Array, jax.Array, AgentCarry]:
        logits = actor_logits(state.params["actor"], obs, carry.last_action)
        masked = jnp.where(avail, logits, MASKED_Q)
        greedy = jnp.argmax(masked, axis=-1)
        sampled = jnp.argmax(gumbel_softmax(key, masked, config.gumbel_temperature), axis=-1)
        actions = jnp.where(explore, sampled, greedy).astype(jnp.int32)
        q = policy_values(state.params, obs, logits, avail)
        return actions, q, carry.replace(last_action=actions)

    def episode_logits(actor_params: Any, batch: Episode) -> jax.Array:
        """Unmasked actor logits f32[B, T+1, N, A] aligned with ``batch.obs``."""
        prev = jnp.concatenate([jnp.full_like(batch.actions[:, :1], -1), batch.actions], axis=1)
        return actor_logits(actor_params, batch.obs, prev)

    def critic_loss(critic_params: Any, target_params: Any, batch: Episode):
        x = critic_x(batch.obs, batch.state)
        taken = jax.nn.one_hot(batch.actions, num_actions, dtype=jnp.float32)
        q = critic_values(critic_params, x[:, :-1], per_agent_joint(taken, taken))
        next_logits = episode_logits(target_params["actor"], batch)[:, 1:]
        next_a = jax.nn.one_hot(masked_greedy(next_logits, batch.avail[:, 1:]), num_actions)
        next_q = critic_values(target_params["critic"], x[:, 1:], per_agent_joint(next_a, next_a))
        targets = td_targets(
            batch.reward * config.reward_scale,
            batch.terminated if config.bootstrap_on_truncation else episode_ends(batch.filled),
            batch.filled,
            next_q,
            config.gamma,
        )
        return masked_td_loss(q, targets, batch.filled)

    def actor_loss(actor_params: Any, critic_params: Any, batch: Episode, key: jax.Array):
        x = critic_x(batch.obs, batch.state)[:, :-1]
        logits = episode_logits(actor_params, batch)[:, :-1]
        avail = batch.avail[:, :-1]
        sample = gumbel_softmax(key, jnp.where(avail, logits, MASKED_Q), config.gumbel_temperature)
        q = critic_values(critic_params, x, per_agent_joint(sample, jax.lax.stop_gradient(sample)))
        mask = jnp.broadcast_to(batch.filled[..., None], q.shape).astype(jnp.float32)
        pg = -(q * mask).sum() / jnp.maximum(mask.sum(), 1.0)
        logit_mask = (avail & batch.filled[..., None, None]).astype(jnp.float32)
        reg = (logits**2 * logit_mask).sum() / jnp.maximum(logit_mask.sum(), 1.0)
        return pg + config.reg * reg, {"pg_loss": pg, "logit_reg": reg}

    def loss(params: Any, target_params: Any, batch: Episode, key: jax.Array | None = None):
        """Critic loss + actor loss at `params` (for tests/analysis; `update` steps them)."""
        key = jax.random.key(0) if key is None else key
        c_loss, c_aux = critic_loss(params["critic"], target_params, batch)
        a_loss, a_aux = actor_loss(params["actor"], params["critic"], batch, key)
        return c_loss + a_loss, {"critic_loss": c_loss, "actor_loss": a_loss, **c_aux, **a_aux}

    def update(
        key: jax.Array, state: LearnerState, batch: Episode
    ) -> tuple[LearnerState, dict[str, jax.Array]]:
        params, opt = state.params, state.opt_state
        (c_loss, c_aux), c_grads = jax.value_and_grad(critic_loss, has_aux=True)(
            params["critic"], state.target_params, batch
        )
        c_step, c_opt = tx.update(c_grads, opt["critic"], params["critic"])
        critic_params = optax.apply_updates(params["critic"], c_step)
        # the actor ascends the freshly updated critic, as EPyMARL's MADDPGLearner.train
        (a_loss, a_aux), a_grads = jax.value_and_grad(actor_loss, has_aux=True)(
            params["actor"], critic_params, batch, key
        )
        a_step, a_opt = tx.update(a_grads, opt["actor"], params["actor"])
        new_params = {
            "actor": optax.apply_updates(params["actor"], a_step),
            "critic": critic_params,
        }
        new_state = state.replace(
            params=new_params,
            target_params=soft_update(new_params, state.target_params, config.tau),
            opt_state={"actor": a_opt, "critic": c_opt},
            updates=state.updates + 1,
        )
        metrics = {
            "loss": c_loss + a_loss,
            "critic_loss": c_loss,
            "actor_loss": a_loss,
            "grad_norm": optax.global_norm(c_grads),
            "actor_grad_norm": optax.global_norm(a_grads),
            **c_aux,
            **a_aux,
        }
        return new_state, metrics

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
