"""MARTA training: the team, the Adversary and the Switcher in one compiled rollout.

How to read this file (top to bottom):

1. `MartaConfig`: which method (``baseline`` = random fault injection without a switcher,
   ``marta`` = the Switcher chooses when and whom to fault), how faults are injected in
   training (`train_fault`) and in evaluation (`eval_fault`: Case 1 aligned or Case 2
   shifted), the Switcher's config and the adversary learner (fault policy ``learned``).
2. The state: `TrainState` of `marta.core.train` (learner, buffer, env states of the
   `FaultWrapper`, observations, carries, key, counters) with its optional `adversary`
   (`AdversaryState`) and `switcher` (`SwitcherTrainState`) fields filled in.
3. `propose_fault_actions`: the fault policy sigma proposes f for every agent (uniform,
   stuck, worst_case = softmax(-Q/T) of the team's own Q, learned = the adversary's action).
4. `make_marta_train(train_config, marta_config, env, learner)` -> `MartaTrainer` with the
   `Trainer` contract (``init``, ``segment``, ``num_segments``) plus ``scorecard``. One
   collection step does Algorithm 1 / 3 of the paper (appendix):

   * line 7: the team proposes a ~ pi (epsilon-greedy on its Q), the fault policy proposes
     f ~ sigma, and the Switcher samples g ~ g(. | s, a, f, y) under its mask
     (MARTA-Budget's augmented state (s, y): `switcher_features` with the budget fraction);
   * line 8: a running (persistent) fault overrides the Switcher's new choice (the
     `FaultWrapper` does this; its `switch_mask` leaves only the running choice);
   * lines 9/14/18: the environment executes (f^i, a^{-i}) or a;
   * lines 10/15/19: r_S = -c * 1[g != 0] - r for the Switcher, r for the team, -r for the
     adversary;
   * lines 11/16/21: each stores its transition in its own buffer (team and adversary:
     episode buffers; Switcher: a transition buffer); lines 24-26: each learns from it in
     the same compiled segment.

   ``baseline`` runs the same loop without the Switcher: faults come from the
   `FaultWrapper`'s random onset (probability p, agent from the selection rule).
5. Evaluation (inside the segment), `evaluate_under` and `scorecard`: the greedy team
   under a `FaultConfig` with random onset p, no switcher (the Switcher is a training
   device), or, for a red team (`MartaConfig.freeze_team`), with the greedy Switcher
   choosing the faults.
6. The activation map (paper, Fig. 4): on an environment with a grid (`agent_cells`,
   `grid_shape`), the Switcher's state counts, over the whole run, where the agents stood
   and where the agent it faulted stood at each activation (`ActivationMap`).

See docs/marta.md for the paper lines and the choices the paper leaves open.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Literal, NamedTuple, get_args

import jax
import jax.numpy as jnp
from flax import struct

from marta.core.train import TrainConfig, TrainState, _raw_key, _where_env
from marta.envs.base import MultiAgentEnv
from marta.faults import FaultConfig, FaultWrapper, get_policy, worst_case_actions
from marta.learners.replay import (
    Episode,
    EpisodeBuffer,
    add_episodes,
    clear_finished,
    empty_episodes,
    init_buffer,
    sample,
    write_step,
)
from marta.learners.value import AgentCarry, Learner, LearnerState
from marta.switcher import (
    BufferState,
    SwitcherConfig,
    SwitcherState,
    SwitcherTransition,
    feature_dim,
    make_switcher,
    make_switcher_buffer,
    switcher_features,
    switcher_reward,
)

Method = Literal["baseline", "marta"]
SwitcherOnsets = Literal["random", "every_step"]
#: MartaConfig fields that only the Switcher reads: a baseline run carries them unused
SWITCHER_FIELDS = (
    "switcher",
    "switcher_updates_per_rollout",
    "switcher_learning_starts",
    "switcher_onsets",
)
#: scorecard rows: name -> fault policy at the evaluation p (None = no faults at all)
SCORECARD_POLICIES: dict[str, str | None] = {
    "no_fault": None,
    "uniform": "uniform",
    "worst_case": "worst_case",
}


#: metrics about faults, left out of plain (fault-free) training
FAULT_METRICS = (
    "eval_activations_per_episode",
    "activation_rate",
    "faulty_step_rate",
    "activations_per_episode",
    "max_activations_in_episode",
    "switcher_entropy",
    "switcher_alpha",
    "adversary_loss",
)


def params_abs_max(params: Any) -> jax.Array:
    """The largest |parameter| of a pytree: NaN or inf as soon as one parameter is, so the
    runner's non-finite check (issue: reliability) sees the parameters through this metric."""
    return jnp.max(jnp.stack([jnp.max(jnp.abs(x)) for x in jax.tree.leaves(params)]))


def _fail(field: str, message: str) -> None:
    raise ValueError(f"MartaConfig.{field} {message}")


# ----------------------------------------------------------------------------- config
@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class MartaConfig:
    """How faults are injected in training and evaluation, and by whom.

    The paper's experiment protocol ("Experiment Configurations"): baselines inject faults
    "uniformly or adversarially without switching control", MARTA lets the Switcher decide;
    evaluation uses random onsets with probability p ("Case 1 aligned": the training
    distribution; "Case 2 shifted": another one).
    """

    method: Method = "marta"
    """"baseline": random onset with probability train_fault.p, no switcher; "marta": the
    Switcher chooses the onset and the agent (see `switcher_onsets` for the role of p)"""
    train_fault: FaultConfig = FaultConfig()
    """fault injection in training: selection (the switcher's support), policy sigma,
    duration, budget; p is the baseline's onset probability (FaultConfig's defaults; Table 1
    of the paper uses policy "uniform" for baselines and "worst_case" for MARTA)"""
    eval_fault: FaultConfig | None = None
    """fault injection of the in-training evaluation (random onset p, no switcher); None =
    Case 1: the same as train_fault"""
    switcher: SwitcherConfig = SwitcherConfig()
    """the Switcher (marta only): activation cost c, use_budget (must be set exactly when
    train_fault.budget is), SAC hyperparameters"""
    adversary_learner: str | None = None
    """registry name of the adversary learner (a second instance with the team's learner
    config, trained on -r of the transitions in which a fault was active); required when a
    fault policy is "learned", else None"""
    switcher_updates_per_rollout: int = 1
    """Switcher SAC updates after each collection (like the team's updates_per_rollout)"""
    switcher_learning_starts: int = 0
    """env steps before the first Switcher update (its buffer must also hold a batch)"""
    switcher_onsets: SwitcherOnsets = "random"
    """when the Switcher may start a fault: "random" = only at the random onset
    opportunities of the baseline (Bernoulli(train_fault.p) each step, the paper's "at each
    timestep t, with probability p"), so MARTA trains under at most the baseline's fault rate
    and learns which opportunities to use and on whom; "every_step" = at every step
    (Algorithm 1 read literally: with c = 0 the Switcher then faults most steps, 81% on
    lbf-5x5-4p-1f, and the team learns a worse policy than the baseline; docs/marta.md)"""
    freeze_team: bool = False
    """red-team evaluation of a trained team (`marta eval --red-team`): the team acts
    greedily (epsilon 0), stores nothing and is never updated (its update is not traced);
    only the Switcher and the adversary learn, and each segment's evaluation lets the greedy
    Switcher choose the faults. Needs method "marta"."""

    def __post_init__(self) -> None:
        if self.method not in get_args(Method):
            _fail("method", f"must be one of 'baseline', 'marta'; got {self.method!r}")
        for name in ("train_fault", "eval_fault"):
            value = getattr(self, name)
            if not (isinstance(value, FaultConfig) or (name == "eval_fault" and value is None)):
                _fail(name, f"must be a FaultConfig; got {type(value).__name__}")
        if not isinstance(self.switcher, SwitcherConfig):
            _fail("switcher", f"must be a SwitcherConfig; got {type(self.switcher).__name__}")
        if self.switcher_onsets not in get_args(SwitcherOnsets):
            _fail(
                "switcher_onsets",
                f"must be one of 'random', 'every_step'; got {self.switcher_onsets!r}",
            )
        for name in ("switcher_updates_per_rollout", "switcher_learning_starts"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                _fail(name, f"must be an int >= 0; got {value!r}")
        if not isinstance(self.freeze_team, bool):
            _fail("freeze_team", f"must be true or false; got {self.freeze_team!r}")
        if self.freeze_team and self.method != "marta":
            _fail("freeze_team", "needs method 'marta' (the red team is a Switcher)")
        uses_learned = "learned" in (self.train_fault.policy, self.evaluation_fault.policy)
        if uses_learned and self.adversary_learner is None:
            _fail(
                "adversary_learner",
                "must name a learner (iql, vdn, qmix) when a fault policy is 'learned'",
            )
        if not uses_learned and self.adversary_learner is not None:
            _fail("adversary_learner", "is only used with the fault policy 'learned'; set None")
        if self.adversary_learner is not None:
            from marta.learners import LEARNERS

            if self.adversary_learner not in LEARNERS:
                _fail(
                    "adversary_learner",
                    f"must be one of {', '.join(sorted(LEARNERS))}; got {self.adversary_learner!r}",
                )
        has_budget = self.train_fault.budget is not None
        if self.method == "marta" and self.switcher.use_budget != has_budget:
            _fail(
                "switcher.use_budget",
                f"must be {has_budget} when train_fault.budget is {self.train_fault.budget!r} "
                "(the Switcher sees the budget exactly when there is one)",
            )
        if self.method == "baseline" and self.switcher.use_budget:
            _fail("switcher.use_budget", "needs method 'marta' (the baseline has no switcher)")
        if self.method == "baseline" and self.switcher.activation_cost != 0.0:
            _fail("switcher.activation_cost", "needs method 'marta' (the baseline has no switcher)")

    @property
    def evaluation_fault(self) -> FaultConfig:
        """The evaluation's fault config (train_fault when eval_fault is None: Case 1)."""
        return self.train_fault if self.eval_fault is None else self.eval_fault

    @property
    def uses_switcher(self) -> bool:
        return self.method == "marta"

    @property
    def uses_adversary(self) -> bool:
        return self.adversary_learner is not None


# ----------------------------------------------------------------------------- state
@struct.dataclass
class AdversaryState:
    """The Adversary: a second value learner trained on -r (leading axis E where noted).

    Attributes:
        learner: its learner state.
        buffer: its replay buffer; only steps with an active fault are `filled` (learned).
        staging: `Episode`[E] episodes being collected.
        carry: `AgentCarry`[E] its recurrent state.
    """

    learner: LearnerState
    buffer: EpisodeBuffer
    staging: Episode
    carry: AgentCarry


@struct.dataclass
class ActivationMap:
    """Where on the grid the Switcher's faults hit, counted over the whole run (Fig. 4).

    Counts are taken at every training step from the state *before* the step, i.e. where
    the agents stood when the Switcher chose. Agents off the grid (`agent_cells` -1, e.g.
    Traffic Junction cars waiting to enter or already arrived) are not counted.

    Attributes:
        activations: i32[H, W] activations (new faults, not the later steps of a persistent
            one) whose faulty agent stood at the cell.
        visits: i32[H, W] agent-steps spent at the cell (every agent on the grid).
        off_grid: i32[] activations on an agent that was not on the grid (not in
            `activations`; activations.sum() + off_grid = all activations).
    """

    activations: jax.Array
    visits: jax.Array
    off_grid: jax.Array


@struct.dataclass
class SwitcherTrainState:
    """The Switcher's learner, replay buffer and the transitions waiting for x_{t+1}.

    Attributes:
        learner: `SwitcherState`.
        buffer: `BufferState` of `SwitcherTransition`s.
        pending: `SwitcherTransition`[E] last step's transitions, completed with the next
            step's features x_{t+1} and mask at the next step.
        pending_valid: bool[E] whether `pending` holds a transition (not after an episode
            end, whose transition is stored at once).
        activation_map: `ActivationMap` on environments with a grid, else None.
    """

    learner: SwitcherState
    buffer: BufferState
    pending: SwitcherTransition
    pending_valid: jax.Array
    activation_map: ActivationMap | None = None


#: the state of a MARTA run is the team's `TrainState` with its `adversary` and `switcher`
#: fields filled in (both None in a run without an adversary / a switcher)
MartaState = TrainState


class Evaluation(NamedTuple):
    """Greedy evaluation episodes (each f32[episodes]).

    Attributes:
        returns: team return of each episode.
        lengths: its length in steps.
        activations: faults activated in it.
        counters: {name: count in each episode} of the env's `episode_counters`.
    """

    returns: jax.Array
    lengths: jax.Array
    activations: jax.Array
    counters: dict[str, jax.Array]


class MartaTrainer(NamedTuple):
    """The `Trainer` contract plus the end-of-run scorecard, evaluation and activation map.

    Attributes:
        init: ``init(key, team=None) -> MartaState``; `team`, a trained team's
            `LearnerState`, is used instead of a new team (the red team's frozen team).
        segment: ``segment(state) -> (state, metrics)``; pure, jit/vmap-able.
        num_segments: segments in the run.
        scorecard: ``scorecard(state) -> {name: f32[eval_episodes] returns}`` of the greedy
            team under no faults, uniform and worst-case faults at the evaluation p.
        evaluate_under: ``evaluate_under(key, state, fault, episodes, *, switched=False)
            -> Evaluation``: the greedy team under any `FaultConfig` (None = no faults) with
            the segment's compiled rollout (`fault` and `episodes` are static).
        scorecard_info: static facts written next to the scorecard (p, selection, ...).
        activation_map: ``activation_map(state) -> ActivationMap`` where the env has a grid
            and the run a Switcher, else None.
        grid_shape: (H, W) of that grid, else None.
    """

    init: Callable[..., MartaState]
    segment: Callable[[MartaState], tuple[MartaState, dict[str, jax.Array]]]
    num_segments: int
    scorecard: Callable[[MartaState], dict[str, jax.Array]]
    evaluate_under: Callable[..., Evaluation]
    scorecard_info: tuple[tuple[str, Any], ...] = ()
    activation_map: Callable[[MartaState], ActivationMap] | None = None
    grid_shape: tuple[int, int] | None = None


# ----------------------------------------------------------------------------- helpers
def propose_fault_actions(
    key: jax.Array,
    config: FaultConfig,
    avail: jax.Array,
    team_q: jax.Array,
    adversary_actions: jax.Array | None,
) -> jax.Array:
    """The fault policy sigma's proposal f for every agent (paper, Algorithm 1 line 7).

    Args:
        key: PRNG key.
        config: the fault config (its `policy`, `temperature`, `stuck_action`).
        avail: bool[..., N, A] available actions.
        team_q: f32[..., N, A] the team's own Q-values (worst_case: softmax(-Q/T)).
        adversary_actions: i32[..., N] the adversary's actions (learned), else None.

    Returns:
        i32[..., N] fault actions f.
    """
    if config.policy == "worst_case":
        return worst_case_actions(key, team_q, config.temperature, avail)
    if config.policy == "learned":
        if adversary_actions is None:
            raise ValueError("fault policy 'learned' needs the adversary's actions")
        return adversary_actions.astype(jnp.int32)
    return get_policy(config.policy).sample(key, avail, config)


def grid_shape_of(env: MultiAgentEnv) -> tuple[int, int] | None:
    """(H, W) of an environment with a grid (optional `agent_cells` and `grid_shape`), else None."""
    if getattr(env, "agent_cells", None) is None:
        return None
    rows, cols = env.grid_shape
    return int(rows), int(cols)


def count_cells(cells: jax.Array, weights: jax.Array, grid_shape: tuple[int, int]) -> jax.Array:
    """Per-cell counts i32[H, W]: each (row, col) of `cells` adds its weight to its cell.

    Args:
        cells: i32[..., 2] (row, col); entries outside the grid (such as -1 for an agent that
            is not on it) are not counted.
        weights: bool/int[...] how often each entry counts.
        grid_shape: (H, W).

    Returns:
        i32[H, W] counts.
    """
    rows, cols = grid_shape
    r, c = cells[..., 0], cells[..., 1]
    inside = (r >= 0) & (r < rows) & (c >= 0) & (c < cols)
    flat = jnp.where(inside, r * cols + c, -1).reshape(-1)
    w = jnp.where(inside, weights.astype(jnp.int32), 0).reshape(-1)
    hits = flat[:, None] == jnp.arange(rows * cols)  # an entry outside matches no cell
    return jnp.sum(jnp.where(hits, w[:, None], 0), axis=0).reshape(rows, cols)


def _add_masked(buffer: BufferState, transitions: SwitcherTransition, valid: jax.Array):
    """Appends the transitions with ``valid[m]`` (in order) to the Switcher's ring buffer.

    The Switcher buffer's own ``add`` writes every row; here the number of finished
    transitions varies per step, so invalid rows are dropped (scatter ``mode="drop"``).
    """
    capacity = buffer.data.choice.shape[0]
    offset = jnp.cumsum(valid.astype(jnp.int32)) - 1
    slots = jnp.where(valid, (buffer.position + offset) % capacity, capacity)
    data = jax.tree.map(
        lambda stored, new: stored.at[slots].set(new.astype(stored.dtype), mode="drop"),
        buffer.data,
        transitions,
    )
    count = jnp.sum(valid.astype(jnp.int32))
    return BufferState(
        data=data,
        position=(buffer.position + count) % capacity,
        size=jnp.minimum(buffer.size + count, capacity),
    )


def _gated(update: Callable, key: jax.Array, state: Any, batch: Any, ready: jax.Array):
    """``update(key, state, batch)`` where `ready`, else the state and zero metrics.

    The update is computed either way and selected: `ready` differs between seeds, and a
    ``lax.cond`` on it is a select under the seed vmap anyway, one that would also turn the
    update's own conditional (`marta.learners.trim`) into a select of every branch.
    """
    new_state, metrics = update(key, state, batch)
    state = jax.tree.map(lambda new, old: jnp.where(ready, new, old), new_state, state)
    metrics = jax.tree.map(lambda m: jnp.where(ready, m, jnp.zeros_like(m)), metrics)
    return state, {**metrics, "did_update": ready.astype(jnp.float32)}


def _mean_over_updates(metrics: dict[str, jax.Array]) -> dict[str, jax.Array]:
    done = metrics["did_update"]
    count = jnp.maximum(done.sum(), 1.0)
    return {k: (v * done).sum() / count for k, v in metrics.items() if k != "did_update"}


# ----------------------------------------------------------------------------- trainer
def make_marta_train(
    train_config: TrainConfig,
    marta_config: MartaConfig | None,
    env: MultiAgentEnv,
    learner: Learner,
    adversary: Learner | None = None,
) -> MartaTrainer:
    """Builds the compiled MARTA (or fault-injection baseline) trainer.

    Args:
        train_config: run sizes (the same `TrainConfig` as `make_train`).
        marta_config: fault injection, Switcher and adversary settings; None = no faults
            (the baseline with p = 0: this is how `marta.core.train.make_train` trains).
        env: the environment (not wrapped; the faults are added here).
        learner: the team's value learner.
        adversary: the adversary learner; None = built from
            ``marta_config.adversary_learner`` with the team's learner config.

    Returns:
        `MartaTrainer` (``init``, ``segment``, ``num_segments``, ``scorecard``,
        ``evaluate_under``; ``activation_map`` and ``grid_shape`` where the env has a grid
        and the method a Switcher).

    Raises:
        ValueError: a fault config does not fit the environment (agent or stuck action out of
            range), the learner has no Q-values for worst_case, or buffer sizes are too small.
    """
    plain = marta_config is None
    if plain:
        marta_config = MartaConfig(method="baseline", train_fault=FaultConfig(p=0.0))
    cfg, mcfg = train_config, marta_config
    lcfg = learner.config
    num_envs = cfg.num_envs
    frozen = mcfg.freeze_team
    wrapper = FaultWrapper(env, mcfg.train_fault)
    eval_wrapper = FaultWrapper(env, mcfg.evaluation_fault)
    worst = dataclasses.replace(mcfg.evaluation_fault, policy="worst_case", budget=None)
    scorecard_faults = {
        name: dataclasses.replace(worst, policy=policy) if policy else replace_p(worst, 0.0)
        for name, policy in SCORECARD_POLICIES.items()
    }
    needs_q = "worst_case" in (mcfg.train_fault.policy, mcfg.evaluation_fault.policy)
    if needs_q and getattr(learner, "q_values", None) is None:
        raise ValueError("fault policy 'worst_case' needs a learner with Q-values")
    if mcfg.uses_adversary and adversary is None:
        from marta.learners import make_learner

        adversary = make_learner(mcfg.adversary_learner, lcfg, env.spec)
    if not mcfg.uses_adversary:
        adversary = None
    scfg = mcfg.switcher
    if mcfg.uses_switcher and scfg.buffer_capacity < 2 * num_envs:
        raise ValueError(
            f"MartaConfig.switcher.buffer_capacity must be >= 2 * num_envs ({2 * num_envs}); "
            f"got {scfg.buffer_capacity}"
        )
    switcher = make_switcher(scfg)
    switcher_buffer = make_switcher_buffer(scfg.buffer_capacity)
    num_agents, num_actions = env.num_agents, env.num_actions
    num_features = feature_dim(env.state_dim, num_agents, num_actions, scfg.use_budget)
    budget = mcfg.train_fault.budget
    grid = grid_shape_of(env) if mcfg.uses_switcher else None
    sizes = {
        "max_steps": env.max_steps,
        "num_agents": num_agents,
        "num_actions": num_actions,
        "obs_dim": env.obs_dim,
        "state_dim": env.state_dim,
    }

    def batched(fn: Callable, in_axes: tuple) -> Callable:
        return jax.vmap(fn, in_axes=in_axes)

    team_act = batched(learner.act, (0, None, 0, 0, 0, None))
    adversary_act = batched(adversary.act, (0, None, 0, 0, 0, None)) if adversary else None

    def wrapped_step(w: FaultWrapper) -> Callable:
        def one(key, state, actions, fault_actions, switch):
            return w.step(key, state, actions, fault_actions=fault_actions, switch=switch)

        return jax.vmap(one)

    step = wrapped_step(wrapper)

    def batched_carry(model: Learner, batch: int) -> AgentCarry:
        carry = model.initial_carry()
        return jax.tree.map(lambda x: jnp.broadcast_to(x, (batch, *x.shape)), carry)

    def features(global_state, actions, fault_actions, budget_left) -> jax.Array:
        fraction = None
        if scfg.use_budget:
            fraction = jnp.ones_like(budget_left, jnp.float32)
            if budget:
                fraction = budget_left.astype(jnp.float32) / budget
            elif budget == 0:
                fraction = jnp.zeros_like(budget_left, jnp.float32)
        return switcher_features(global_state, actions, fault_actions, num_actions, fraction)

    # ------------------------------------------------------------------ init
    def init(key: jax.Array, team: LearnerState | None = None) -> MartaState:
        """A fresh state; `team` (a trained team's learner state) replaces the new team."""
        if not jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
            key = jax.random.wrap_key_data(key)
        key_team, key_env, key_run, key_adv, key_sw = jax.random.split(key, 5)
        obs, env_state = jax.vmap(wrapper.reset)(jax.random.split(key_env, num_envs))
        zero = jnp.zeros((), jnp.int32)
        adv_state = None
        if adversary is not None:
            adv_state = AdversaryState(
                learner=adversary.init(key_adv),
                buffer=init_buffer(adversary.config.buffer_size, **sizes),
                staging=empty_episodes(num_envs, **sizes),
                carry=batched_carry(adversary, num_envs),
            )
        sw_state = None
        if mcfg.uses_switcher:
            example = SwitcherTransition(
                features=jnp.zeros((num_features,), jnp.float32),
                mask=jnp.zeros((num_agents + 1,), bool),
                choice=zero,
                switcher_reward=jnp.zeros((), jnp.float32),
                next_features=jnp.zeros((num_features,), jnp.float32),
                next_mask=jnp.zeros((num_agents + 1,), bool),
                terminated=jnp.zeros((), bool),
            )
            cells = None
            if grid is not None:
                cells = ActivationMap(
                    activations=jnp.zeros(grid, jnp.int32),
                    visits=jnp.zeros(grid, jnp.int32),
                    off_grid=zero,
                )
            sw_state = SwitcherTrainState(
                learner=switcher.init(key_sw, num_features, num_agents + 1),
                buffer=switcher_buffer.init(example),
                pending=jax.tree.map(lambda x: jnp.broadcast_to(x, (num_envs, *x.shape)), example),
                pending_valid=jnp.zeros((num_envs,), bool),
                activation_map=cells,
            )
        return TrainState(
            learner=learner.init(key_team) if team is None else team,
            # a frozen team stores nothing: a one-episode placeholder keeps the state's layout
            buffer=init_buffer(1 if frozen else lcfg.buffer_size, **sizes),
            staging=empty_episodes(num_envs, **sizes),
            env_state=env_state,
            obs=obs,
            carry=batched_carry(learner, num_envs),
            key=_raw_key(key_run),
            env_steps=zero,
            updates=zero,
            episodes=zero,
            adversary=adv_state,
            switcher=sw_state,
        )

    # ------------------------------------------------------------------ collection
    def switch_mask(key: jax.Array, w: FaultWrapper, env_state: Any) -> jax.Array:
        """The Switcher's allowed choices bool[E, N + 1] (`MartaConfig.switcher_onsets`)."""
        mask = jax.vmap(w.switch_mask)(env_state)
        if mcfg.switcher_onsets == "every_step":
            return mask
        return gate_onsets(key, mask, env_state.fault.faulty_agent >= 0, w.config.p)

    def env_step(ms: MartaState, key: jax.Array):
        ts = ms
        k_act, k_adv, k_fault, k_switch, k_env = jax.random.split(key, 5)
        avail = jax.vmap(wrapper.avail_actions)(ts.env_state)
        global_state = jax.vmap(wrapper.global_state)(ts.env_state)
        actions, q, carry = team_act(
            jax.random.split(k_act, num_envs), ts.learner, ts.obs, ts.carry, avail, not frozen
        )
        adv_actions = adv_carry = None
        if adversary is not None:
            adv = ms.adversary
            adv_actions, _, adv_carry = adversary_act(
                jax.random.split(k_adv, num_envs), adv.learner, ts.obs, adv.carry, avail, True
            )
        fault_actions = propose_fault_actions(k_fault, mcfg.train_fault, avail, q, adv_actions)

        switch = x = mask = probs = None
        if mcfg.uses_switcher:
            x = features(global_state, actions, fault_actions, ts.env_state.fault.budget_left)
            mask = switch_mask(jax.random.fold_in(k_switch, 1), wrapper, ts.env_state)
            switch, probs = switcher.act(k_switch, ms.switcher.learner, x, mask, True)
        obs, env_state, reward, done, info = step(
            jax.random.split(k_env, num_envs), ts.env_state, actions, fault_actions, switch
        )
        executed = info["executed_actions"]
        time = info["episode_length"] - 1
        record = {
            "obs": ts.obs,
            "state": global_state,
            "avail": avail,
            "actions": executed,
            "terminated": info["terminated"],
            "next_obs": info["final_obs"],
            "next_state": info["final_global_state"],
            "next_avail": info["final_avail_actions"],
        }
        env_steps = ts.env_steps + num_envs
        fresh = batched_carry(learner, num_envs)
        ms = ms.replace(
            env_state=env_state,
            obs=obs,
            carry=_where_env(done, fresh, carry.replace(last_action=executed)),
            env_steps=env_steps,
            episodes=ts.episodes + done.sum(dtype=jnp.int32),
        )
        if not frozen:
            # the team: (s, (f^i, a^{-i}), r, s') (Algorithm 1 lines 11, 16, 21)
            staging = write_step(ts.staging, time, reward=reward, **record)
            ms = ms.replace(
                learner=ts.learner.replace(env_steps=env_steps),
                buffer=add_episodes(ts.buffer, staging, done),
                staging=clear_finished(staging, done),
            )
        faulty = info["faulty_agent"] >= 0

        # the adversary: (s, (f^i, a^{-i}), -r, s') of the faulty steps only
        adv_next = None
        if adversary is not None:
            adv = ms.adversary
            adv_staging = write_step(adv.staging, time, reward=-reward, **record)
            env_index = jnp.arange(num_envs)
            adv_staging = adv_staging.replace(
                filled=adv_staging.filled.at[env_index, time].set(faulty)
            )
            commit = done & adv_staging.filled.any(axis=1)
            adv_next = adv.replace(
                learner=adv.learner.replace(env_steps=env_steps),
                buffer=add_episodes(adv.buffer, adv_staging, commit),
                staging=clear_finished(adv_staging, done),
                carry=_where_env(
                    done,
                    batched_carry(adversary, num_envs),
                    adv_carry.replace(last_action=executed),
                ),
            )

        # the switcher: (x_t, g_t, r_S, x_{t+1}); x_{t+1} is known at the next step, except
        # at an episode end, where it is built from the final state (see docs/marta.md)
        sw_next = None
        entropy = jnp.zeros((num_envs,), jnp.float32)
        if mcfg.uses_switcher:
            sw = ms.switcher
            choice = info["switch"]
            completed = sw.pending.replace(next_features=x, next_mask=mask)
            end_features = features(
                info["final_global_state"], actions, fault_actions, info["budget_left"]
            )
            current = SwitcherTransition(
                features=x,
                mask=mask,
                choice=choice,
                switcher_reward=switcher_reward(
                    reward, choice, scfg.activation_cost, scfg.reward_scale
                ),
                next_features=end_features,
                next_mask=mask.at[:, 0].set(True),
                terminated=info["terminated"],
            )
            both = jax.tree.map(lambda a, b: jnp.concatenate([a, b]), completed, current)
            buffer = _add_masked(sw.buffer, both, jnp.concatenate([sw.pending_valid, done]))
            sw_next = sw.replace(buffer=buffer, pending=current, pending_valid=~done)
            entropy = -jnp.sum(jnp.where(probs > 0, probs * jnp.log(probs), 0.0), axis=-1)
            if grid is not None:
                sw_next = sw_next.replace(
                    activation_map=count_activations(sw.activation_map, ts.env_state, info)
                )

        stats = {
            "return_sum": jnp.where(done, info["episode_return"], 0.0).sum(),
            "episodes": done.sum().astype(jnp.float32),
            "activations": info["activation"].sum().astype(jnp.float32),
            "faulty_steps": faulty.sum().astype(jnp.float32),
            "episode_activations_sum": jnp.where(done, info["activations"], 0).sum(),
            "episode_activations_max": jnp.where(done, info["activations"], 0).max(),
            "switcher_entropy_sum": entropy.sum(),
        }
        return ms.replace(adversary=adv_next, switcher=sw_next), stats

    def count_activations(counts: ActivationMap, env_state, info) -> ActivationMap:
        """Adds one step of all envs: agents' cells before the step, the new faults' cells."""
        cells = jax.vmap(env.agent_cells)(env_state.env)  # i32[E, N, 2]
        activated = info["fault_mask"] & info["activation"][:, None]  # bool[E, N]
        hits = count_cells(cells, activated, grid)
        return ActivationMap(
            activations=counts.activations + hits,
            visits=counts.visits + count_cells(cells, jnp.ones(activated.shape, bool), grid),
            off_grid=counts.off_grid + info["activation"].sum(dtype=jnp.int32) - hits.sum(),
        )

    # ------------------------------------------------------------------ learning
    def learn(ms: MartaState, key: jax.Array):
        ts = ms
        k_team, k_adv, _ = jax.random.split(key, 3)
        metrics = {}
        if not frozen:  # a frozen team's update is not even traced
            k_sample, k_update = jax.random.split(k_team)
            ready = (ts.buffer.size >= lcfg.batch_size) & (ts.env_steps >= cfg.learning_starts)
            batch = sample(k_sample, ts.buffer, lcfg.batch_size)
            team_learner, metrics["team"] = _gated(
                learner.update, k_update, ts.learner, batch, ready
            )
            ms = ms.replace(learner=team_learner, updates=team_learner.updates)
        if adversary is not None:
            adv = ms.adversary
            acfg = adversary.config
            k_sample, k_update = jax.random.split(k_adv)
            ready = (adv.buffer.size >= acfg.batch_size) & (ts.env_steps >= cfg.learning_starts)
            batch = sample(k_sample, adv.buffer, acfg.batch_size)
            adv_learner, metrics["adversary"] = _gated(
                adversary.update, k_update, adv.learner, batch, ready
            )
            ms = ms.replace(adversary=adv.replace(learner=adv_learner))
        return ms, metrics

    def learn_switcher(ms: MartaState, key: jax.Array):
        sw = ms.switcher
        k_sample, k_update = jax.random.split(key)
        ready = (sw.buffer.size >= scfg.batch_size) & (
            ms.env_steps >= mcfg.switcher_learning_starts
        )
        batch = switcher_buffer.sample(k_sample, sw.buffer, scfg.batch_size)
        state, metrics = _gated(switcher.update, k_update, sw.learner, batch, ready)
        return ms.replace(switcher=sw.replace(learner=state)), metrics

    def iteration(ms: MartaState, _: None):
        key, k_roll, k_learn, k_sw = jax.random.split(jax.random.wrap_key_data(ms.key), 4)
        ms = ms.replace(key=_raw_key(key))
        ms, stats = jax.lax.scan(env_step, ms, jax.random.split(k_roll, cfg.rollout_steps))
        ms, metrics = jax.lax.scan(learn, ms, jax.random.split(k_learn, cfg.updates_per_rollout))
        if mcfg.uses_switcher:
            ms, metrics["switcher"] = jax.lax.scan(
                learn_switcher, ms, jax.random.split(k_sw, mcfg.switcher_updates_per_rollout)
            )
        stats = {
            k: (v.max() if k.endswith("_max") else v.sum()).astype(jnp.float32)
            for k, v in stats.items()
        }
        return ms, (stats, metrics)

    # ------------------------------------------------------------------ evaluation
    def evaluate(
        key: jax.Array, ms: MartaState, w: FaultWrapper, num: int, switched: bool
    ) -> Evaluation:
        """`num` greedy episodes under `w`'s faults: random onset, or the greedy Switcher."""
        run_step = wrapped_step(w)
        key_reset, key_run = jax.random.split(key)
        obs, env_state = jax.vmap(w.reset)(jax.random.split(key_reset, num))

        def one(carry, key_t):
            obs, env_state, team_carry, adv_carry, finished, out = carry
            k_act, k_adv, k_fault, k_env, *k_switch = jax.random.split(key_t, 5 if switched else 4)
            avail = jax.vmap(w.avail_actions)(env_state)
            actions, q, team_carry = team_act(
                jax.random.split(k_act, num), ms.learner, obs, team_carry, avail, False
            )
            adv_actions = None
            if w.config.policy == "learned":
                adv_actions, _, adv_carry = adversary_act(
                    jax.random.split(k_adv, num), ms.adversary.learner, obs, adv_carry, avail, False
                )
            fault_actions = propose_fault_actions(k_fault, w.config, avail, q, adv_actions)
            switch = None
            if switched:  # Algorithm 3 line 7 with the greedy Switcher
                global_state = jax.vmap(w.global_state)(env_state)
                x = features(global_state, actions, fault_actions, env_state.fault.budget_left)
                mask = switch_mask(jax.random.fold_in(k_switch[0], 1), w, env_state)
                switch, _ = switcher.act(k_switch[0], ms.switcher.learner, x, mask, False)
            obs, env_state, _, done, info = run_step(
                jax.random.split(k_env, num), env_state, actions, fault_actions, switch
            )
            executed = info["executed_actions"]
            team_carry = team_carry.replace(last_action=executed)
            if adv_carry is not None:
                adv_carry = adv_carry.replace(last_action=executed)
            first = done & ~finished
            values = (info["episode_return"], info["episode_length"], info["activations"])
            returns, lengths, activations, counters = out
            returns, lengths, activations = (
                jnp.where(first, v.astype(jnp.float32), o)
                for v, o in zip(values, (returns, lengths, activations), strict=True)
            )
            counters = {  # each env's first episode only
                name: counters[name] + jnp.where(finished, 0.0, info[entry].astype(jnp.float32))
                for name, entry in env.episode_counters.items()
            }
            out = (returns, lengths, activations, counters)
            return (obs, env_state, team_carry, adv_carry, finished | done, out), None

        zeros = jnp.zeros((num,), jnp.float32)
        adv_carry0 = batched_carry(adversary, num) if w.config.policy == "learned" else None
        out0 = (zeros, zeros, zeros, {name: zeros for name in env.episode_counters})
        carry0 = (obs, env_state, batched_carry(learner, num), adv_carry0,
                  jnp.zeros((num,), bool), out0)  # fmt: skip
        final, _ = jax.lax.scan(one, carry0, jax.random.split(key_run, env.max_steps))
        return Evaluation(*final[-1])

    def evaluate_under(
        key: jax.Array,
        ms: MartaState,
        fault: FaultConfig | None,
        episodes: int,
        *,
        switched: bool = False,
    ) -> Evaluation:
        """The greedy team's episodes under `fault`, with the segment's evaluation rollout.

        Args:
            key: PRNG key.
            ms: the trained state (one seed).
            fault: fault injection (random onset p, its selection, policy, duration and
                budget); None = no faults. Static.
            episodes: episodes, run in parallel. Static.
            switched: the greedy Switcher of `ms` chooses when and whom to fault (its
                budget must be train_fault's, which its input encodes) instead of the random
                onset.

        Raises:
            ValueError: at trace time, for a fault the run cannot produce (learned without
                an adversary, a switched evaluation without a Switcher or with another
                budget).
        """
        fault = replace_p(FaultConfig(), 0.0) if fault is None else fault
        if fault.policy == "learned" and adversary is None:
            raise ValueError(
                "fault policy 'learned' needs a run with an adversary "
                "(marta.adversary_learner); use uniform, worst_case or stuck"
            )
        if fault.policy == "worst_case" and getattr(learner, "q_values", None) is None:
            raise ValueError("fault policy 'worst_case' needs a learner with Q-values")
        if switched and not mcfg.uses_switcher:
            raise ValueError("a switched evaluation needs a run with a Switcher (method marta)")
        if switched and fault.budget != budget:
            raise ValueError(
                f"a switched evaluation needs the Switcher's budget {budget!r}; "
                f"got {fault.budget!r}"
            )
        return evaluate(key, ms, FaultWrapper(env, fault), episodes, switched)

    # ------------------------------------------------------------------ segment
    def segment(ms: MartaState) -> tuple[MartaState, dict[str, jax.Array]]:
        ms, (stats, upd) = jax.lax.scan(iteration, ms, None, length=cfg.iterations_per_segment)
        ts = ms
        key, key_eval = jax.random.split(jax.random.wrap_key_data(ts.key))
        ms = ms.replace(key=_raw_key(key))
        evaluation = evaluate(key_eval, ms, eval_wrapper, cfg.eval_episodes, frozen)
        returns = evaluation.returns
        episodes = stats["episodes"].sum()
        per_episode = jnp.maximum(episodes, 1.0)
        team = {} if frozen else _mean_over_updates(upd["team"])
        metrics = {
            "env_steps": ts.env_steps,
            "updates": ts.updates,
            "episodes": ts.episodes,
            "epsilon": jnp.zeros((), jnp.float32) if frozen else learner.epsilon(ts.learner),
            "eval_return_mean": returns.mean(),
            "eval_return_std": returns.std(),
            "eval_length_mean": evaluation.lengths.mean(),
            "eval_activations_per_episode": evaluation.activations.mean(),
            **{f"eval_{name}_mean": c.mean() for name, c in evaluation.counters.items()},
            "train_return_mean": stats["return_sum"].sum() / per_episode,
            "train_episodes": episodes.astype(jnp.int32),
            "buffer_size": ts.buffer.size,
            "activation_rate": stats["activations"].sum() / cfg.eval_interval,
            "faulty_step_rate": stats["faulty_steps"].sum() / cfg.eval_interval,
            "activations_per_episode": stats["episode_activations_sum"].sum() / per_episode,
            "max_activations_in_episode": stats["episode_activations_max"].max(),
            "switcher_entropy": stats["switcher_entropy_sum"].sum() / cfg.eval_interval,
            "switcher_alpha": jnp.zeros((), jnp.float32),
            "adversary_loss": jnp.zeros((), jnp.float32),
            "params_abs_max": params_abs_max(ts.learner.params),
            **team,
        }
        if mcfg.uses_switcher:
            sw = _mean_over_updates(upd["switcher"])
            metrics["switcher_alpha"] = jnp.exp(ms.switcher.learner.log_alpha)
            sw_state = ms.switcher.learner
            metrics["switcher_params_abs_max"] = params_abs_max(
                (sw_state.actor_params, sw_state.critic_params, sw_state.log_alpha)
            )
            metrics.update({f"switcher_{k}": sw[k] for k in ("q_loss", "policy_loss", "q_mean")})
        if adversary is not None:
            metrics["adversary_loss"] = _mean_over_updates(upd["adversary"])["loss"]
            metrics["adversary_params_abs_max"] = params_abs_max(ms.adversary.learner.params)
        if plain:
            metrics = {k: v for k, v in metrics.items() if k not in FAULT_METRICS}
        return ms, metrics

    # ------------------------------------------------------------------ scorecard
    def scorecard(ms: MartaState) -> dict[str, jax.Array]:
        keys = jax.random.split(jax.random.wrap_key_data(ms.key), len(scorecard_faults))
        return {
            name: evaluate_under(k, ms, fault, cfg.eval_episodes).returns
            for k, (name, fault) in zip(keys, scorecard_faults.items(), strict=True)
        }

    def activation_map(ms: MartaState) -> ActivationMap:
        return ms.switcher.activation_map

    eval_fault = mcfg.evaluation_fault
    info = (
        ("method", mcfg.method),
        ("fault_p", eval_fault.p),
        ("selection", eval_fault.selection),
        ("agent", eval_fault.agent),
        ("duration", eval_fault.duration),
        ("temperature", eval_fault.temperature),
        ("episodes_per_seed", cfg.eval_episodes),
    )
    return MartaTrainer(
        init=init,
        segment=segment,
        num_segments=cfg.num_segments,
        scorecard=scorecard,
        evaluate_under=evaluate_under,
        scorecard_info=info,
        activation_map=None if grid is None else activation_map,
        grid_shape=grid,
    )


def gate_onsets(key: jax.Array, mask: jax.Array, running: jax.Array, p: float) -> jax.Array:
    """Restricts new activations to random onset opportunities (switcher_onsets "random").

    Each environment gets an opportunity with probability p (the baseline's onset rule,
    "at each timestep t, with probability p"); without one only g = 0 stays allowed. A
    running fault keeps its mask (Algorithm 1, line 8 overrides the choice anyway).

    Args:
        key: PRNG key.
        mask: bool[E, N + 1] the wrapper's switch mask (column 0 = no fault).
        running: bool[E] a fault is active.
        p: onset probability in [0, 1].

    Returns:
        bool[E, N + 1].
    """
    opportunity = jax.random.bernoulli(key, p, running.shape) | running
    no_fault = jnp.arange(mask.shape[-1]) == 0
    return jnp.where(opportunity[:, None], mask, mask & no_fault)


def replace_p(config: FaultConfig, p: float) -> FaultConfig:
    """A copy of `config` with onset probability `p` (uniform policy, no budget)."""
    return dataclasses.replace(config, p=p, policy="uniform", budget=None)
