"""`FaultWrapper`: fault injection around any marta environment, as pure JAX functions.

How to read this file: the fault injector's whole state is a `FaultState` pytree stored next
to the wrapped environment's state (`FaultEnvState`). `FaultWrapper.step` does, in order:

1. the fault actions f (i32[N], one proposal per agent): given by the caller
   (`fault_actions=`, from the adversary or `worst_case_actions`), else sampled by the
   configured self-contained policy (uniform, stuck);
2. the faulty agent of this step: a running fault (persistent duration, not yet terminated)
   continues and overrides any new choice (Algorithm 1, line 8); otherwise a new fault is
   *requested* by the switcher (`switch=`, MARTA) or by the random onset (probability `p`,
   agent from the selection rule) and *activated* if `switch_mask` allows it (the agent is in
   the selection's support and budget is left);
3. the executed joint action (f^i, a^{-i}), stepped in the wrapped environment;
4. the termination check of the fault (Bernoulli(terminate_p) for persistent faults; one-step
   faults always end) and the budget bookkeeping;
5. on an episode end (the inner `done`), the fault state is reset with the environment.

See docs/faults.md for the semantics and the paper quotes, docs/glossary.md for the terms.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from marta.envs.base import EnvState, MultiAgentEnv
from marta.faults.config import FaultConfig
from marta.faults.policies import get_policy

NO_AGENT = -1
"""value of an agent-index field meaning "no agent" (no fault / not applicable)"""
UNLIMITED = -1
"""value of `FaultState.budget_left` when the budget is unlimited"""


@struct.dataclass
class FaultState:
    """State of the fault injector (all i32[] scalars).

    Attributes:
        faulty_agent: the agent whose fault is *running*, i.e. was active at the last step and
            survived its termination check, so it continues at the next step; -1 = none.
        steps_active: steps the running fault has lasted so far (0 when none runs).
        budget_left: activations still allowed in the budget scope; -1 = unlimited.
        activations: activations in the current episode.
        total_activations: activations since `reset` (survives the auto-resets).
        episode_agent: simple selection: this episode's faulty agent; -1 for complex.
    """

    faulty_agent: jax.Array
    steps_active: jax.Array
    budget_left: jax.Array
    activations: jax.Array
    total_activations: jax.Array
    episode_agent: jax.Array


@struct.dataclass
class FaultEnvState:
    """State of a `FaultWrapper`: the wrapped environment's state and the fault state."""

    env: EnvState
    fault: FaultState


def _i32(x) -> jax.Array:
    return jnp.asarray(x, jnp.int32)


class FaultWrapper:
    """Wraps a `MultiAgentEnv` with fault injection; same sizes and call contract.

    Usable wherever an environment is (`marta.envs.rollout`, learners): `reset(key)`,
    `step(key, state, actions)`, `global_state(state)`, `avail_actions(state)`,
    `observations(state)` and the static sizes behave as the wrapped environment's, with a
    `FaultEnvState` as state and extra `info` entries (see `step`).

    Args:
        env: the environment to wrap.
        config: the fault settings; cross-checked against the environment's sizes.

    Raises:
        ValueError: the config does not fit the environment (`FaultConfig.validate_for`).
    """

    def __init__(self, env: MultiAgentEnv, config: FaultConfig) -> None:
        config.validate_for(env.num_agents, env.num_actions)
        self.env = env
        self.config = config
        self.policy = get_policy(config.policy)
        self.name = env.name
        self.num_agents = env.num_agents
        self.num_actions = env.num_actions
        self.obs_dim = env.obs_dim
        self.state_dim = env.state_dim
        self.max_steps = env.max_steps
        weights = np.asarray(config.selection_weights(env.num_agents), np.float32)
        self._log_weights = jnp.log(jnp.asarray(weights))  # -inf where F has no mass
        self._in_weights = weights > 0

    # ------------------------------------------------------------------ helpers
    def _initial_fault(
        self, key: jax.Array, total_activations: jax.Array, budget_left: jax.Array
    ) -> FaultState:
        cfg = self.config
        if cfg.selection == "complex":
            episode_agent = _i32(NO_AGENT)
        elif cfg.agent is not None:
            episode_agent = _i32(cfg.agent)
        else:
            episode_agent = jax.random.categorical(key, self._log_weights).astype(jnp.int32)
        return FaultState(
            faulty_agent=_i32(NO_AGENT),
            steps_active=_i32(0),
            budget_left=_i32(budget_left),
            activations=_i32(0),
            total_activations=_i32(total_activations),
            episode_agent=episode_agent,
        )

    def _support(self, fault: FaultState) -> jax.Array:
        """bool[N]: agents the selection rule can fault (simple: one; complex: F's support)."""
        if self.config.selection == "simple":
            return jnp.arange(self.num_agents) == fault.episode_agent
        return jnp.asarray(self._in_weights)

    def _can_activate(self, fault: FaultState) -> jax.Array:
        """bool[N]: agents a *new* fault may be activated on (support and budget left)."""
        support = self._support(fault)
        if self.config.budget is None:
            return support
        return support & (fault.budget_left > 0)

    def _random_onset(self, key: jax.Array, fault: FaultState) -> jax.Array:
        """i32[]: the agent requested by the random onset, -1 when no onset happens."""
        key_onset, key_agent = jax.random.split(key)
        onset = jax.random.bernoulli(key_onset, self.config.p)
        if self.config.selection == "simple":
            agent = fault.episode_agent
        else:
            agent = jax.random.categorical(key_agent, self._log_weights).astype(jnp.int32)
        return jnp.where(onset, agent, NO_AGENT)

    # ------------------------------------------------------------------ public API
    def reset(self, key: jax.Array) -> tuple[jax.Array, FaultEnvState]:
        """Starts an episode with no fault running and a full budget.

        Returns:
            obs f32[N, obs_dim] and the wrapped state.
        """
        key_env, key_fault = jax.random.split(key)
        obs, env_state = self.env.reset(key_env)
        budget = UNLIMITED if self.config.budget is None else self.config.budget
        fault = self._initial_fault(key_fault, _i32(0), _i32(budget))
        return obs, FaultEnvState(env=env_state, fault=fault)

    def step(
        self,
        key: jax.Array,
        state: FaultEnvState,
        actions: jax.Array,
        *,
        fault_actions: jax.Array | None = None,
        switch: jax.Array | None = None,
    ) -> tuple[jax.Array, FaultEnvState, jax.Array, jax.Array, dict[str, jax.Array]]:
        """One step with fault injection; the wrapped environment auto-resets as usual.

        Args:
            key: PRNG key.
            state: the wrapped state.
            actions: i32[N] the team's proposed actions a.
            fault_actions: i32[N] the fault policy's proposed actions f for every agent (the
                adversary's, or `worst_case_actions(key, q, temperature, avail)`); None =
                sampled here by the configured policy, which must then be self-contained
                ("uniform", "stuck").
            switch: i32[] the switcher's choice g in {0, ..., N}: 0 = no fault, i = fault
                agent i - 1. Given, it replaces the random onset (`p` is not used). A choice
                that `switch_mask` forbids (budget spent, agent outside the selection's
                support) activates nothing; a running fault overrides any choice.

        Returns:
            (obs, state, reward, done, info) as the wrapped environment's `step`, with info
            extended by: `faulty_agent` i32[] (-1 = none), `fault_mask` bool[N],
            `activation` bool[] (a new fault started this step), `switch` i32[] (the
            effective choice g_t = faulty_agent + 1), `fault_steps` i32[] (steps the
            current fault has lasted, this one included; 0 = none), `fault_actions` i32[N],
            `executed_actions` i32[N], `activations` i32[] (this episode, this step
            included) and `budget_left` i32[] (after this step; -1 = unlimited).

        Raises:
            ValueError: at trace time, when the policy needs `fault_actions` and none are given.
        """
        cfg = self.config
        n = self.num_agents
        key_env, key_policy, key_onset, key_term, key_reset = jax.random.split(key, 5)
        actions = _i32(actions)
        chex.assert_shape(actions, (n,))
        if fault_actions is None:
            if self.policy.needs_fault_actions:
                raise ValueError(
                    f"fault policy {cfg.policy!r} needs fault_actions: pass the adversary's "
                    "actions (learned) or worst_case_actions(key, q, temperature, avail) "
                    "computed from the team's Q-values (worst_case)"
                )
            fault_actions = self.policy.sample(key_policy, self.avail_actions(state), cfg)
        fault_actions = _i32(fault_actions)
        chex.assert_shape(fault_actions, (n,))
        fault = state.fault

        # who is faulty at this step: a running fault, else a requested and allowed new one
        if switch is None:
            requested = self._random_onset(key_onset, fault)
        else:
            switch = _i32(switch)
            chex.assert_shape(switch, ())
            requested = switch - 1
        in_range = (requested >= 0) & (requested < n)
        allowed = self._can_activate(fault)[jnp.clip(requested, 0, n - 1)]
        running = fault.faulty_agent >= 0
        activation = ~running & in_range & allowed
        faulty_agent = jnp.where(running, fault.faulty_agent, jnp.where(activation, requested, -1))
        fault_mask = jnp.arange(n) == faulty_agent
        executed = jnp.where(fault_mask, fault_actions, actions)

        obs, env_state, reward, done, info = self.env.step(key_env, state.env, executed)

        # duration: how long this fault has lasted and whether it continues at the next step
        fault_steps = jnp.where(running, fault.steps_active + 1, activation.astype(jnp.int32))
        if cfg.duration == "step":
            continues = jnp.zeros((), bool)
        else:
            continues = (faulty_agent >= 0) & ~jax.random.bernoulli(key_term, cfg.terminate_p)
        budget_left = fault.budget_left
        if cfg.budget is not None:
            budget_left = budget_left - activation
        stepped = FaultState(
            faulty_agent=jnp.where(continues, faulty_agent, NO_AGENT).astype(jnp.int32),
            steps_active=jnp.where(continues, fault_steps, 0).astype(jnp.int32),
            budget_left=_i32(budget_left),
            activations=fault.activations + activation,
            total_activations=fault.total_activations + activation,
            episode_agent=fault.episode_agent,
        )
        refill = cfg.budget is not None and cfg.budget_scope == "episode"
        fresh = self._initial_fault(
            key_reset,
            stepped.total_activations,
            _i32(cfg.budget) if refill else stepped.budget_left,
        )
        next_fault = jax.tree.map(lambda r, s: jnp.where(done, r, s), fresh, stepped)

        info = {
            **info,
            "faulty_agent": faulty_agent.astype(jnp.int32),
            "fault_mask": fault_mask,
            "activation": activation,
            "switch": (faulty_agent + 1).astype(jnp.int32),
            "fault_steps": fault_steps.astype(jnp.int32),
            "fault_actions": fault_actions,
            "executed_actions": executed,
            "activations": stepped.activations,
            "budget_left": stepped.budget_left,
        }
        return obs, FaultEnvState(env=env_state, fault=next_fault), reward, done, info

    def switch_mask(self, state: FaultEnvState) -> jax.Array:
        """The switcher's allowed choices, bool[N + 1] (index 0 = no fault, i = agent i - 1).

        While a fault is running, only its own choice is allowed (the running fault is what
        happens whatever the switcher picks, Algorithm 1 line 8: g_t = g_{t-1}). Otherwise
        0 is always allowed and i is allowed when agent i - 1 is in the selection's support
        (simple: the episode's agent; complex: weight > 0) and budget is left.
        """
        fault = state.fault
        idle = jnp.concatenate([jnp.ones((1,), bool), self._can_activate(fault)])
        running_choice = jnp.arange(self.num_agents + 1) == fault.faulty_agent + 1
        return jnp.where(fault.faulty_agent >= 0, running_choice, idle)

    def budget_fraction(self, state: FaultEnvState) -> jax.Array:
        """Remaining budget as a fraction f32[] of the budget (1.0 if unlimited, 0.0 if 0).

        This is the budget component y_t of the switcher's augmented state (MARTA-Budget,
        section "MARTA with a Malfunction Budget"), normalised to [0, 1].
        """
        budget = self.config.budget
        if budget is None:
            return jnp.ones((), jnp.float32)
        if budget == 0:
            return jnp.zeros((), jnp.float32)
        return state.fault.budget_left.astype(jnp.float32) / budget

    def global_state(self, state: FaultEnvState) -> jax.Array:
        """Global state f32[state_dim] of the wrapped environment."""
        return self.env.global_state(state.env)

    def avail_actions(self, state: FaultEnvState) -> jax.Array:
        """Available actions bool[N, num_actions] of the wrapped environment."""
        return self.env.avail_actions(state.env)

    def observations(self, state: FaultEnvState) -> jax.Array:
        """Observations f32[N, obs_dim] of the wrapped environment."""
        return self.env.observations(state.env)

    @property
    def spec(self) -> dict[str, int]:
        """Static sizes, identical to the wrapped environment's."""
        return self.env.spec

    def __repr__(self) -> str:
        return f"FaultWrapper({self.env!r}, {self.config!r})"
