"""The MARTA Switcher: a discrete soft actor-critic over {0: no fault} U {1..N}.

How to read this file: the small pure functions at the top are the algorithm's equations
(`switcher_reward`, `masked_policy`, `target_entropy`, `soft_td_target`); `make_switcher`
at the bottom assembles them into a learner, a NamedTuple of three pure functions::

    switcher = make_switcher(SwitcherConfig(activation_cost=0.1))
    state = switcher.init(key, feature_dim, num_choices)          # num_choices = N + 1
    choice, probs = switcher.act(key, state, features, mask, explore)
    state, metrics = switcher.update(key, state, batch)           # batch: SwitcherTransition[B]

The paper uses SAC (Haarnoja et al. 2018) for the Switcher ("Details on Architecture"). With
a discrete choice set the expectations over the policy are exact sums, so no
reparameterisation or action sampling is needed in the update (as in Christodoulou 2019 and
CleanRL's `sac_atari.py`). With x the Switcher input, g a choice, pi the switching policy
(the paper's fraktur g), Q_1, Q_2 twin critics and bars their Polyak targets:

    y      = r_S + gamma (1 - d) sum_{g'} pi(g'|x') [min_k Qbar_k(x', g') - alpha log pi(g'|x')]
    L_Q    = sum_k E[(Q_k(x, g) - y)^2]
    L_pi   = E_x[ sum_g pi(g|x) (alpha log pi(g|x) - min_k Q_k(x, g)) ]
    L_alpha= E_x[ log(alpha) (H(pi(.|x)) - Hbar(x)) ],  Hbar(x) = scale * log |allowed(x)|

Disallowed choices (the mask, e.g. faults when the MARTA-B budget is spent) get probability
exactly 0 everywhere: when acting, in the next-state value and in the policy loss.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from flax import struct

from marta.switcher.config import SwitcherConfig
from marta.switcher.replay import SwitcherTransition

_MASKED_LOGIT = -1e9  # exp(-1e9) underflows to exactly 0 in float32, and stays differentiable


# ----------------------------------------------------------------------------- equations
def switcher_reward(
    team_reward: jax.Array,
    choice: jax.Array,
    cost: float | jax.Array,
    scale: float | jax.Array = 1.0,
) -> jax.Array:
    r"""The Switcher's reward: the negated team reward minus the activation cost.

    Paper, "Switching Control Mechanism": :math:`\mathcal{R}_S(s, a, g) := -c \cdot
    \mathbf{1}_{\mathcal{N}}(g) - \mathcal{R}(s, a)`, i.e. Algorithm 1 lines 10/15/19:
    :math:`r_{S,t} = -c - r_t` when a fault is activated (:math:`g_t \in \mathcal{N}`) and
    :math:`r_{S,t} = -r_t` otherwise.

    Args:
        team_reward: f32[...] team reward r_t of the executed joint action.
        choice: i32[...] Switcher choice g_t (0 = no fault).
        cost: activation cost c >= 0.
        scale: reward scale k > 0 (`SwitcherConfig.reward_scale`; 1 in the paper).

    Returns:
        f32[...] k * r_S = k * (-r - c * 1[g != 0]).
    """
    activated = (jnp.asarray(choice) != 0).astype(jnp.float32)
    return scale * (-jnp.asarray(team_reward, jnp.float32) - cost * activated)


def masked_policy(logits: jax.Array, mask: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Softmax policy restricted to the allowed choices.

    If a row allows no choice at all, choice 0 ("no fault") is allowed so the policy is
    always a distribution.

    Args:
        logits: f32[..., C] actor outputs.
        mask: bool[..., C] allowed choices.

    Returns:
        probs: f32[..., C] pi(g|x), exactly 0 on disallowed choices.
        log_probs: f32[..., C] log pi(g|x) on allowed choices, 0 on disallowed ones (so that
            probs * log_probs is 0 there, not NaN).
    """
    mask = jnp.asarray(mask, bool)
    mask = mask.at[..., 0].set(mask[..., 0] | ~jnp.any(mask, axis=-1))
    masked_logits = jnp.where(mask, logits, _MASKED_LOGIT)
    log_probs = jax.nn.log_softmax(masked_logits, axis=-1)
    probs = jnp.where(mask, jnp.exp(log_probs), 0.0)
    return probs, jnp.where(mask, log_probs, 0.0)


def target_entropy(mask: jax.Array, scale: float) -> jax.Array:
    r"""Per-state entropy target :math:`\bar{H}(x) = \text{scale} \cdot \log |\text{allowed}(x)|`.

    CleanRL's discrete SAC uses :math:`\text{scale} \cdot \log |A|`; here the log counts the
    allowed choices only, so a state with a single allowed choice (spent budget) asks for
    entropy 0 and leaves alpha untouched.

    Args:
        mask: bool[..., C] allowed choices.
        scale: target_entropy_scale in [0, 1].

    Returns:
        f32[...] target entropy in nats.
    """
    allowed = jnp.maximum(jnp.sum(jnp.asarray(mask, jnp.float32), axis=-1), 1.0)
    return scale * jnp.log(allowed)


def soft_td_target(
    switcher_reward: jax.Array,
    terminated: jax.Array,
    next_target_q: jax.Array,
    next_probs: jax.Array,
    next_log_probs: jax.Array,
    alpha: jax.Array | float,
    gamma: float,
) -> jax.Array:
    r"""Soft Bellman target of the twin critics (SAC, expectation over discrete choices).

    .. math::
        y = r_S + \gamma (1 - d) \sum_{g'} \pi(g'|x') \left[\min_k \bar{Q}_k(x', g')
            - \alpha \log \pi(g'|x')\right]

    Args:
        switcher_reward: f32[B] r_S.
        terminated: bool[B] d, true terminal at x' (no bootstrap).
        next_target_q: f32[2, B, C] target critics at x'.
        next_probs: f32[B, C] pi(.|x'), zero on disallowed choices.
        next_log_probs: f32[B, C] log pi(.|x'), zero on disallowed choices.
        alpha: entropy temperature.
        gamma: discount.

    Returns:
        f32[B] targets y (no gradient flows through them).
    """
    min_q = jnp.min(next_target_q, axis=0)
    next_value = jnp.sum(next_probs * (min_q - alpha * next_log_probs), axis=-1)
    not_done = 1.0 - jnp.asarray(terminated, jnp.float32)
    return jax.lax.stop_gradient(switcher_reward + gamma * not_done * next_value)


# ----------------------------------------------------------------------------- networks
class MLP(nn.Module):
    """ReLU multilayer perceptron with a linear head of `out_dim` outputs."""

    hidden_sizes: tuple[int, ...]
    out_dim: int
    head_scale: float = 1.0

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        for width in self.hidden_sizes:
            x = nn.relu(nn.Dense(width)(x))
        head_init = nn.initializers.variance_scaling(self.head_scale, "fan_in", "truncated_normal")
        return nn.Dense(self.out_dim, kernel_init=head_init)(x)


# ----------------------------------------------------------------------------- learner
@struct.dataclass
class SwitcherState:
    """Everything the Switcher needs to act and to continue training.

    Attributes:
        actor_params: parameters of the switching policy pi(g|x) (logits over C choices).
        critic_params: parameters of the twin critics Q_1, Q_2 (leading axis [2]).
        target_critic_params: Polyak-averaged copies of `critic_params`.
        log_alpha: f32[] log of the entropy temperature.
        actor_opt_state: optimiser state of the actor.
        critic_opt_state: optimiser state of the critics.
        alpha_opt_state: optimiser state of log_alpha.
        step: i32[] number of updates done.
        num_choices: C = N + 1 (static).
    """

    actor_params: dict
    critic_params: dict
    target_critic_params: dict
    log_alpha: jax.Array
    actor_opt_state: optax.OptState
    critic_opt_state: optax.OptState
    alpha_opt_state: optax.OptState
    step: jax.Array
    num_choices: int = struct.field(pytree_node=False)


class SwitcherLearner(NamedTuple):
    """The Switcher as pure functions; see the module docstring for the call shapes."""

    init: Callable[[jax.Array, int, int], SwitcherState]
    act: Callable[..., tuple[jax.Array, jax.Array]]
    update: Callable[
        [jax.Array, SwitcherState, SwitcherTransition],
        tuple[SwitcherState, dict[str, jax.Array]],
    ]


def make_switcher(config: SwitcherConfig) -> SwitcherLearner:
    """Builds the discrete-SAC Switcher learner.

    Args:
        config: Switcher hyperparameters.

    Returns:
        A `SwitcherLearner` (init, act, update) of pure, jit- and vmap-able functions.
    """

    def clipped_adam(lr: float) -> optax.GradientTransformation:
        return optax.chain(optax.clip_by_global_norm(config.grad_clip), optax.adam(lr))

    actor_tx = clipped_adam(config.actor_lr)
    critic_tx = clipped_adam(config.critic_lr)
    alpha_tx = optax.adam(config.alpha_lr) if config.autotune_alpha else optax.set_to_zero()

    def networks(num_choices: int) -> tuple[MLP, MLP]:
        actor = MLP(config.hidden_sizes, num_choices, head_scale=0.01)
        critic = MLP(config.hidden_sizes, num_choices)
        return actor, critic

    def twin_q(critic: MLP, params: dict, features: jax.Array) -> jax.Array:
        """f32[2, ..., C] Q values of both critics."""
        return jax.vmap(critic.apply, in_axes=(0, None))(params, features)

    def init(key: jax.Array, feature_dim: int, num_choices: int) -> SwitcherState:
        """Initialises networks, optimisers and alpha.

        Args:
            key: PRNG key.
            feature_dim: length F of the Switcher input (see `feature_dim`).
            num_choices: C = N + 1.

        Returns:
            The initial `SwitcherState`.
        """
        if num_choices < 2:
            raise ValueError(f"num_choices must be >= 2 (no fault + agents), got {num_choices}")
        actor, critic = networks(num_choices)
        actor_key, critic_key = jax.random.split(key)
        dummy = jnp.zeros((1, feature_dim), jnp.float32)
        actor_params = actor.init(actor_key, dummy)
        critic_params = jax.vmap(critic.init, in_axes=(0, None))(
            jax.random.split(critic_key, 2), dummy
        )
        log_alpha = jnp.log(jnp.asarray(config.initial_alpha, jnp.float32))
        return SwitcherState(
            actor_params=actor_params,
            critic_params=critic_params,
            target_critic_params=critic_params,
            log_alpha=log_alpha,
            actor_opt_state=actor_tx.init(actor_params),
            critic_opt_state=critic_tx.init(critic_params),
            alpha_opt_state=alpha_tx.init(log_alpha),
            step=jnp.zeros((), jnp.int32),
            num_choices=num_choices,
        )

    def act(
        key: jax.Array,
        state: SwitcherState,
        features: jax.Array,
        mask: jax.Array,
        explore: bool | jax.Array = True,
    ) -> tuple[jax.Array, jax.Array]:
        """Chooses g ~ pi(.|x) (explore) or the most probable allowed choice (greedy).

        Args:
            key: PRNG key.
            state: Switcher state.
            features: f32[..., F] Switcher input.
            mask: bool[..., C] allowed choices.
            explore: sample from the policy if True, else take its argmax (may be traced).

        Returns:
            choice: i32[...] in {0..C-1}, always an allowed choice.
            probs: f32[..., C] pi(.|x), exactly 0 on disallowed choices.
        """
        actor, _ = networks(state.num_choices)
        probs, log_probs = masked_policy(actor.apply(state.actor_params, features), mask)
        logits = jnp.where(probs > 0, log_probs, _MASKED_LOGIT)
        sampled = jax.random.categorical(key, logits, axis=-1)
        greedy = jnp.argmax(logits, axis=-1)
        return jnp.where(explore, sampled, greedy).astype(jnp.int32), probs

    def update(
        key: jax.Array, state: SwitcherState, batch: SwitcherTransition
    ) -> tuple[SwitcherState, dict[str, jax.Array]]:
        """One SAC step: critics, then actor, then alpha, then Polyak targets.

        Args:
            key: PRNG key (unused by the exact discrete expectations; kept for the common
                learner call shape).
            state: Switcher state.
            batch: transitions with leading axis [B].

        Returns:
            The new state and scalar metrics: q_loss, policy_loss, alpha_loss, alpha,
            entropy, target_entropy, q_mean, td_target_mean.
        """
        del key  # discrete SAC: every expectation over choices is an exact sum
        actor, critic = networks(state.num_choices)
        alpha = jnp.exp(state.log_alpha)

        # --- critics: regress both Q_k(x, g) on the soft Bellman target y
        next_probs, next_log_probs = masked_policy(
            actor.apply(state.actor_params, batch.next_features), batch.next_mask
        )
        targets = soft_td_target(
            batch.switcher_reward,
            batch.terminated,
            twin_q(critic, state.target_critic_params, batch.next_features),
            next_probs,
            next_log_probs,
            alpha,
            config.gamma,
        )

        def critic_loss(params):
            q_taken = jnp.take_along_axis(
                twin_q(critic, params, batch.features), batch.choice[None, :, None], axis=-1
            )[..., 0]
            return jnp.sum(jnp.mean((q_taken - targets) ** 2, axis=-1)), q_taken

        (q_loss, q_taken), critic_grads = jax.value_and_grad(critic_loss, has_aux=True)(
            state.critic_params
        )
        critic_updates, critic_opt_state = critic_tx.update(
            critic_grads, state.critic_opt_state, state.critic_params
        )
        critic_params = optax.apply_updates(state.critic_params, critic_updates)

        # --- actor: minimise E_x sum_g pi(g|x) (alpha log pi(g|x) - min_k Q_k(x, g))
        min_q = jax.lax.stop_gradient(jnp.min(twin_q(critic, critic_params, batch.features), 0))

        def policy_loss(params):
            probs, log_probs = masked_policy(actor.apply(params, batch.features), batch.mask)
            loss = jnp.mean(jnp.sum(probs * (alpha * log_probs - min_q), axis=-1))
            return loss, -jnp.sum(probs * log_probs, axis=-1)

        (pi_loss, entropy), actor_grads = jax.value_and_grad(policy_loss, has_aux=True)(
            state.actor_params
        )
        actor_updates, actor_opt_state = actor_tx.update(
            actor_grads, state.actor_opt_state, state.actor_params
        )
        actor_params = optax.apply_updates(state.actor_params, actor_updates)

        # --- alpha: raise it when the entropy is below target, lower it when above
        entropy_target = target_entropy(batch.mask, config.target_entropy_scale)
        entropy_gap = jax.lax.stop_gradient(jnp.mean(entropy - entropy_target))

        def alpha_loss(log_alpha):
            return log_alpha * entropy_gap

        a_loss, alpha_grad = jax.value_and_grad(alpha_loss)(state.log_alpha)
        alpha_updates, alpha_opt_state = alpha_tx.update(alpha_grad, state.alpha_opt_state)
        log_alpha = optax.apply_updates(state.log_alpha, alpha_updates)

        new_state = state.replace(
            actor_params=actor_params,
            critic_params=critic_params,
            target_critic_params=optax.incremental_update(
                critic_params, state.target_critic_params, config.tau
            ),
            log_alpha=log_alpha,
            actor_opt_state=actor_opt_state,
            critic_opt_state=critic_opt_state,
            alpha_opt_state=alpha_opt_state,
            step=state.step + 1,
        )
        metrics = {
            "q_loss": q_loss,
            "policy_loss": pi_loss,
            "alpha_loss": a_loss,
            "alpha": jnp.exp(log_alpha),
            "entropy": jnp.mean(entropy),
            "target_entropy": jnp.mean(entropy_target),
            "q_mean": jnp.mean(q_taken),
            "td_target_mean": jnp.mean(targets),
        }
        return new_state, metrics

    return SwitcherLearner(init=init, act=act, update=update)
