"""Base MARL learners: IQL, VDN and QMIX as one value-decomposition learner with a mixer.

    >>> import marta.envs, marta.learners
    >>> env = marta.envs.make("matrix-climbing")
    >>> cfg = marta.learners.ValueLearnerConfig()
    >>> learner = marta.learners.make_learner("qmix", cfg, env.spec)

`LEARNERS` maps each learner name to a `LearnerEntry` (its config class, mixer and a
description); tests and the runner iterate over it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from marta.learners.config import ValueLearnerConfig
from marta.learners.maddpg import MADDPGConfig, make_maddpg_learner
from marta.learners.networks import MIXERS
from marta.learners.replay import Episode, EpisodeBuffer
from marta.learners.value import AgentCarry, Learner, LearnerState, make_value_learner


@dataclasses.dataclass(frozen=True)
class LearnerEntry:
    """A registered learner.

    Attributes:
        config_cls: its config dataclass (defaults = the learner's defaults).
        mixer: key of `MIXERS` used by the value-decomposition learner.
        description: one line for listings.
        build: ``build(config, env_spec) -> Learner`` for learners that are not the
            value-decomposition learner (then `mixer` is unused).
    """

    config_cls: type
    mixer: str
    description: str = ""
    build: Callable[..., Learner] | None = None


LEARNERS: dict[str, LearnerEntry] = {
    "iql": LearnerEntry(ValueLearnerConfig, "none", "independent Q-learning (no mixer)"),
    "vdn": LearnerEntry(ValueLearnerConfig, "sum", "value decomposition networks (sum mixer)"),
    "qmix": LearnerEntry(ValueLearnerConfig, "qmix", "QMIX (monotonic hypernetwork mixer)"),
    "maddpg": LearnerEntry(MADDPGConfig, "", "MADDPG (Gumbel-softmax actors)", make_maddpg_learner),
}


def make_learner(name: str, config: Any, env_spec: Mapping[str, int]) -> Learner:
    """Builds the registered learner `name` for an environment's static sizes.

    Args:
        name: key of `LEARNERS` (``iql``, ``vdn``, ``qmix``).
        config: an instance of ``LEARNERS[name].config_cls``.
        env_spec: ``env.spec`` (num_agents, num_actions, obs_dim, state_dim, ...).

    Raises:
        ValueError: unknown name (the message lists the valid names) or a config of the
            wrong type.
    """
    if name not in LEARNERS:
        raise ValueError(f"unknown learner {name!r}; valid learners: {', '.join(sorted(LEARNERS))}")
    entry = LEARNERS[name]
    if not isinstance(config, entry.config_cls):
        raise ValueError(
            f"learner {name!r} needs a {entry.config_cls.__name__}, got {type(config).__name__}"
        )
    if entry.build is not None:
        return entry.build(config, env_spec)
    return make_value_learner(config, env_spec, entry.mixer)


__all__ = [
    "LEARNERS",
    "MIXERS",
    "AgentCarry",
    "Episode",
    "EpisodeBuffer",
    "Learner",
    "LearnerEntry",
    "LearnerState",
    "MADDPGConfig",
    "ValueLearnerConfig",
    "make_learner",
]
