"""The MARTA Switcher: a discrete soft actor-critic choosing which agent (if any) malfunctions.

    >>> import jax
    >>> from marta.switcher import SwitcherConfig, make_switcher, feature_dim
    >>> switcher = make_switcher(SwitcherConfig(activation_cost=0.1))
    >>> state = switcher.init(jax.random.key(0), feature_dim(4, 2, 3, False), num_choices=3)

See docs/switcher.md for the algorithm and the paper lines it implements.
"""

from marta.switcher.config import SwitcherConfig
from marta.switcher.features import feature_dim, switcher_features, switcher_mask
from marta.switcher.replay import (
    BufferState,
    SwitcherBuffer,
    SwitcherTransition,
    make_switcher_buffer,
)
from marta.switcher.sac import (
    SwitcherLearner,
    SwitcherState,
    make_switcher,
    masked_policy,
    soft_td_target,
    switcher_reward,
    target_entropy,
)

__all__ = [
    "BufferState",
    "SwitcherBuffer",
    "SwitcherConfig",
    "SwitcherLearner",
    "SwitcherState",
    "SwitcherTransition",
    "feature_dim",
    "make_switcher",
    "make_switcher_buffer",
    "masked_policy",
    "soft_td_target",
    "switcher_features",
    "switcher_mask",
    "switcher_reward",
    "target_entropy",
]
