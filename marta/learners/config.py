"""Typed configuration of the value-based learners (IQL, VDN, QMIX).

One frozen dataclass holds every hyperparameter; the mixer is chosen by the learner's registry
name (``iql`` -> no mixer, ``vdn`` -> sum, ``qmix`` -> monotonic hypernetwork), so the three
learners share this config. Defaults follow EPyMARL's published ``qmix``/``vdn``/``iql``
configs (uoe-agents/epymarl: ``src/config/default.yaml``, ``src/config/algs/qmix.yaml``);
docs/learners.md lists every value with its source and the deviations.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from functools import partial
from typing import Any, Literal

from marta.validation import require

TargetUpdate = Literal["hard", "polyak"]
TARGET_UPDATES: tuple[str, ...] = ("hard", "polyak")


_check = partial(require, owner="ValueLearnerConfig")


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class ValueLearnerConfig:
    """Hyperparameters of the value-decomposition learner (IQL / VDN / QMIX)."""

    lr: float = 5e-4
    """Adam learning rate (EPyMARL default.yaml: lr 0.0005)"""
    adam_eps: float = 1e-8
    """Adam epsilon (torch.optim.Adam default, used by EPyMARL's q_learner)"""
    gamma: float = 0.99
    """discount factor"""
    batch_size: int = 32
    """episodes per gradient update"""
    buffer_size: int = 5000
    """replay capacity in episodes"""
    target_update: TargetUpdate = "hard"
    """'hard': copy online -> target every `target_update_interval` updates; 'polyak': every
    update, target <- tau * online + (1 - tau) * target"""
    target_update_interval: int = 200
    """updates between hard target copies (EPyMARL: 200 episodes = 200 updates)"""
    tau: float = 0.01
    """Polyak step size, used only with target_update='polyak'"""
    epsilon_start: float = 1.0
    """exploration epsilon at env step 0"""
    epsilon_finish: float = 0.05
    """exploration epsilon after the anneal"""
    epsilon_anneal_steps: int = 50_000
    """env steps over which epsilon decays linearly from start to finish"""
    grad_clip: float = 10.0
    """global gradient-norm clip"""
    hidden_dim: int = 64
    """width of the agent network's MLP layer and GRU"""
    mixer_embed_dim: int = 32
    """QMIX mixing-network embedding width"""
    hypernet_embed_dim: int = 64
    """QMIX hypernetwork hidden width (two-layer hypernetworks)"""
    double_q: bool = True
    """double-Q targets: online argmax, target-network value"""
    td_lambda: float = 0.0
    """lambda of TD(lambda) targets; 0 gives one-step targets"""
    bootstrap_on_truncation: bool = True
    """bootstrap from the final observation at a time-limit end; set False to treat the time
    limit as terminal, e.g. when the global state contains the time (Pardo et al., 2018)"""
    reward_scale: float = 1.0
    """constant multiplier applied to rewards in the TD target"""
    obs_scale: float | None = None
    """constant multiplier of the agents' observations, to keep the agent network's inputs
    O(1); None = the environment's ``obs_scale`` (``env.spec``: 1/6 on lbf-5x5-4p-1f, where
    VDN over-estimates and collapses without it; 1 where observations are already O(1))"""
    state_scale: float | None = None
    """constant multiplier of the global state fed to the mixer, to keep the QMIX
    hypernetwork inputs O(1); None = the environment's ``state_scale`` (``env.spec``: 1/6
    on lbf-5x5-4p-1f, 1 where the state is already normalised; docs/learners.md)"""
    obs_agent_id: bool = True
    """append the agent-id one-hot to each agent's observation"""
    obs_last_action: bool = True
    """append the agent's previous action (one-hot) to its observation"""
    length_buckets: int = 3
    """cut lengths of a sampled batch (T, T/2, T/4, ...): each update runs on the shortest
    one holding the batch's longest episode, as EPyMARL cuts every batch to its longest
    episode (``max_t_filled``); 1 = always the padded length T (`marta.learners.trim`)"""
    length_groups: int = 1
    """the batch's episodes, sorted by length, are cut in this many equal groups, each to
    its own longest episode, where that pays (`marta.learners.trim.cut_value_and_grad`): a
    few long episodes then no longer set the length of the whole batch; same loss and
    gradient; 1 = the whole batch at one cut; must divide batch_size. 4 saved about 20% of
    a long run's time under faults (the `paper` budget sets it on LBF and TJ) but adds 12-30
    s to each compilation of a training program, so it is not the default
    (docs/learners.md)"""
    min_bucket_length: int = 8
    """cut lengths shorter than this are not compiled: each cut compiles the whole update
    again, and below 8 steps one saves a few milliseconds per update (docs/learners.md);
    with 3 buckets it matters only for time limits up to 28 steps (T/4 rounded up under 8:
    MPE's 25, the matrix games' 10)"""

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
        _check(
            self.target_update in TARGET_UPDATES,
            "target_update",
            f"one of {TARGET_UPDATES}",
            self.target_update,
        )
        _check(
            self.target_update_interval >= 1,
            "target_update_interval",
            ">= 1",
            self.target_update_interval,
        )
        _check(0.0 < self.tau <= 1.0, "tau", "in (0, 1]", self.tau)
        for name in ("epsilon_start", "epsilon_finish"):
            value = getattr(self, name)
            _check(0.0 <= value <= 1.0, name, "in [0, 1]", value)
        _check(
            self.epsilon_anneal_steps >= 1,
            "epsilon_anneal_steps",
            ">= 1",
            self.epsilon_anneal_steps,
        )
        _check(self.grad_clip > 0, "grad_clip", "> 0", self.grad_clip)
        for name in ("hidden_dim", "mixer_embed_dim", "hypernet_embed_dim"):
            value = getattr(self, name)
            _check(value >= 1, name, ">= 1", value)
        _check(0.0 <= self.td_lambda <= 1.0, "td_lambda", "in [0, 1]", self.td_lambda)
        _check(self.reward_scale > 0, "reward_scale", "> 0", self.reward_scale)
        _check(self.length_buckets >= 1, "length_buckets", ">= 1", self.length_buckets)
        _check(
            self.length_groups >= 1 and self.batch_size % self.length_groups == 0,
            "length_groups",
            f">= 1 and a divisor of batch_size ({self.batch_size})",
            self.length_groups,
        )
        _check(self.min_bucket_length >= 1, "min_bucket_length", ">= 1", self.min_bucket_length)
        for name in ("obs_scale", "state_scale"):
            value = getattr(self, name)
            _check(value is None or value > 0, name, "> 0 or None", value)


def resolve_input_scale(scale: float | None, env_spec: Mapping[str, Any], field: str) -> float:
    """An input multiplier (``state_scale`` or ``obs_scale``), or the environment's
    recommendation ``env_spec[field]`` when it is None (1.0 if the environment has none).

    Environments whose global state or observations are not in [-1, 1] recommend 1 / their
    largest magnitude (`marta.envs.base.MultiAgentEnv.state_scale` / ``obs_scale``).
    """
    if scale is not None:
        return float(scale)
    return float(env_spec.get(field, 1.0))


def resolve_state_scale(state_scale: float | None, env_spec: Mapping[str, Any]) -> float:
    """The learner's ``state_scale``, or the environment's recommendation when it is None."""
    return resolve_input_scale(state_scale, env_spec, "state_scale")
