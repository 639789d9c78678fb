"""Base MARL learners: IQL, VDN and QMIX as one value-decomposition learner with a mixer.

    >>> import marta.envs, marta.learners
    >>> env = marta.envs.make("matrix-climbing")
    >>> cfg = marta.learners.ValueLearnerConfig()
    >>> learner = marta.learners.make_learner("qmix", cfg, env.spec)

`LEARNERS` maps each learner name to a `LearnerEntry` (its config class, mixer and a
description); `register` fills it (a plugin registers its own learners the same way, with
`register_mixer` for a new mixer); tests and the runner iterate over it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from marta.learners.config import ValueLearnerConfig
from marta.learners.maddpg import MADDPGConfig, make_maddpg_learner
from marta.learners.networks import MIXERS, register_mixer
from marta.learners.replay import Episode, EpisodeBuffer
from marta.learners.value import AgentCarry, Learner, LearnerState, make_value_learner
from marta.validation import lookup


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


LEARNERS: dict[str, LearnerEntry] = {}


def register(
    name: str,
    config_cls: type = ValueLearnerConfig,
    *,
    mixer: str = "",
    build: Callable[..., Learner] | None = None,
    description: str = "",
) -> None:
    """Registers a learner under `name` (a plugin's way in: docs/extending.md).

    Either the value-decomposition learner with a registered mixer (`mixer`, a key of
    `MIXERS`; `config_cls` then is `ValueLearnerConfig` or a subclass), or any learner built
    by ``build(config, env_spec) -> Learner`` (the `Learner` contract of
    `marta.learners.value`).

    Raises:
        ValueError: a duplicate name, an unknown mixer, or neither / both of `mixer` and
            `build`.
    """
    if name in LEARNERS:
        raise ValueError(f"learner {name!r} is already registered")
    if (build is None) == (not mixer):
        raise ValueError(f"learner {name!r}: give exactly one of mixer= and build=")
    if build is None:
        try:
            lookup(MIXERS, mixer, "mixer")
        except ValueError as error:
            raise ValueError(f"learner {name!r}: {error}") from None
    LEARNERS[name] = LearnerEntry(config_cls, mixer, description, build)


register("iql", mixer="none", description="independent Q-learning (no mixer)")
register("vdn", mixer="sum", description="value decomposition networks (sum mixer)")
register("qmix", mixer="qmix", description="QMIX (monotonic hypernetwork mixer)")
register(
    "maddpg", MADDPGConfig, build=make_maddpg_learner, description="MADDPG (Gumbel-softmax actors)"
)


def get_entry(name: str) -> LearnerEntry:
    """The registration of learner `name`; an unknown name raises a ValueError listing the
    registered ones (`marta.validation.lookup`)."""
    return lookup(LEARNERS, name, "learner")


def make_learner(name: str, config: Any, env_spec: Mapping[str, int]) -> Learner:
    """Builds the registered learner `name` for an environment's static sizes.

    Args:
        name: key of `LEARNERS` (``iql``, ``vdn``, ``qmix``, ``maddpg``, a plugin's).
        config: an instance of ``LEARNERS[name].config_cls``.
        env_spec: ``env.spec`` (num_agents, num_actions, obs_dim, state_dim, ...).

    Raises:
        ValueError: unknown name (the message lists the valid names) or a config of the
            wrong type.
    """
    entry = get_entry(name)
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
    "get_entry",
    "make_learner",
    "register",
    "register_mixer",
]
