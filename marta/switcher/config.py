"""Configuration of the MARTA Switcher (discrete soft actor-critic over fault choices).

Every hyperparameter of the Switcher lives here, with its default next to its type. The
paper fixes only a few of them (SAC as the algorithm, the switcher discount 0.99, the
activation cost c, and the budget as an extra state variable); the rest are choices the
paper leaves open, documented per field and in docs/switcher.md.
"""

from __future__ import annotations

import dataclasses
import math


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class SwitcherConfig:
    """Hyperparameters of the discrete-SAC Switcher (paper: "Details on Architecture")."""

    hidden_sizes: tuple[int, ...] = (128, 128)
    """hidden layer widths of the actor and of each of the two critics (ReLU MLPs); not in
    the paper"""
    actor_lr: float = 3e-4
    """Adam learning rate of the switching policy g (the actor)"""
    critic_lr: float = 3e-4
    """Adam learning rate of the twin soft Q critics Q_S"""
    alpha_lr: float = 3e-4
    """Adam learning rate of log(alpha), the entropy temperature (ignored if not autotuned)"""
    gamma: float = 0.99
    """discount of the Switcher's return (paper, hyperparameter table: "Switcher discount
    factor 0.99")"""
    tau: float = 0.005
    """Polyak rate of the target critics: target <- tau * online + (1 - tau) * target"""
    target_entropy_scale: float = 0.3
    """target entropy = scale * log(number of allowed choices) per state, in [0, 1]. Low on
    purpose: the optimal switching control is deterministic (paper, Prop. 2), while CleanRL's
    Atari default 0.89 keeps the policy close to uniform"""
    initial_alpha: float = 0.2
    """entropy temperature alpha at initialisation (> 0)"""
    autotune_alpha: bool = True
    """learn alpha by matching the policy entropy to the target entropy; if False alpha stays
    at `initial_alpha`"""
    activation_cost: float = 0.0
    """c >= 0: cost the Switcher pays per fault activation, r_S = -r - c * 1[g != 0]
    (paper, "Switching Control Mechanism"); the paper's experiments use c = 0"""
    reward_scale: float = 1.0
    """k > 0: the Switcher learns from k * r_S = k * (-r - c * 1[g != 0]), the optimal
    switching control unchanged. Not in the paper: with a discount of 0.99 and no terminal
    states (time-limit truncation bootstraps), the soft Q of a team scoring a few points per
    step sits in the hundreds, and its critic is still drifting towards that level while it
    should be ranking the choices (docs/switcher.md, "Reward scale"); the base learners'
    `reward_scale` plays the same role for the team"""
    use_budget: bool = False
    """MARTA-B: append the remaining budget fraction y_t / n to the Switcher's input and mask
    fault choices once the budget is spent (paper, "MARTA with a Malfunction Budget")"""
    batch_size: int = 256
    """transitions per Switcher update, sampled uniformly from the Switcher's replay buffer"""
    buffer_capacity: int = 100_000
    """capacity of the Switcher's transition replay buffer (oldest overwritten first)"""
    grad_clip: float = 10.0
    """global gradient-norm clip of the actor and critic updates (> 0)"""

    def __post_init__(self) -> None:
        if (
            not isinstance(self.hidden_sizes, tuple)
            or not self.hidden_sizes
            or any(
                not isinstance(h, int) or isinstance(h, bool) or h < 1 for h in self.hidden_sizes
            )
        ):
            raise ValueError(
                "hidden_sizes must be a non-empty tuple of positive ints, "
                f"got {self.hidden_sizes!r}"
            )
        for name in ("actor_lr", "critic_lr", "grad_clip", "initial_alpha"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
        if not (math.isfinite(self.alpha_lr) and self.alpha_lr >= 0):
            raise ValueError(f"alpha_lr must be a finite number >= 0, got {self.alpha_lr!r}")
        if not 0.0 <= self.gamma < 1.0:
            raise ValueError(f"gamma must be in [0, 1), got {self.gamma!r}")
        if not 0.0 < self.tau <= 1.0:
            raise ValueError(f"tau must be in (0, 1], got {self.tau!r}")
        if not 0.0 <= self.target_entropy_scale <= 1.0:
            raise ValueError(
                f"target_entropy_scale must be in [0, 1], got {self.target_entropy_scale!r}"
            )
        if not (math.isfinite(self.activation_cost) and self.activation_cost >= 0):
            raise ValueError(
                f"activation_cost must be a finite number >= 0, got {self.activation_cost!r}"
            )
        if not (math.isfinite(self.reward_scale) and self.reward_scale > 0):
            raise ValueError(f"reward_scale must be a finite number > 0, got {self.reward_scale!r}")
        if not isinstance(self.autotune_alpha, bool):
            raise ValueError(f"autotune_alpha must be True or False, got {self.autotune_alpha!r}")
        if not isinstance(self.use_budget, bool):
            raise ValueError(f"use_budget must be True or False, got {self.use_budget!r}")
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1, got {self.batch_size!r}")
        if not isinstance(self.buffer_capacity, int) or self.buffer_capacity < self.batch_size:
            raise ValueError(
                f"buffer_capacity must be an int >= batch_size ({self.batch_size}), "
                f"got {self.buffer_capacity!r}"
            )
