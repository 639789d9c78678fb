"""Registry of environment ids: one dict, filled by `register`, read by `get_entry` and `make`.

Each id maps to a builder (usually an environment class taking a frozen config dataclass)
and the keyword defaults that define that id. `make(id, **overrides)` merges the overrides
into the defaults, so any registered id can be resized without registering a new one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from marta.envs.base import MultiAgentEnv
from marta.validation import did_you_mean, lookup


@dataclasses.dataclass(frozen=True)
class EnvEntry:
    """A registered environment id.

    Attributes:
        builder: callable taking keyword arguments and returning a `MultiAgentEnv`.
        defaults: keyword arguments that define this id.
        description: one line shown by `marta envs`.
    """

    builder: Callable[..., MultiAgentEnv]
    defaults: dict[str, Any]
    description: str = ""


ENVS: dict[str, EnvEntry] = {}


def register(
    env_id: str, builder: Callable[..., MultiAgentEnv], description: str = "", **defaults: Any
) -> None:
    """Registers `env_id`; a duplicate id is a programming error."""
    if env_id in ENVS:
        raise ValueError(f"environment id {env_id!r} is already registered")
    ENVS[env_id] = EnvEntry(builder=builder, defaults=dict(defaults), description=description)


def get_entry(env_id: str) -> EnvEntry:
    """The registration of `env_id`.

    Raises:
        ValueError: unknown id; the message lists the valid ids and says how a plugin's
            environments are loaded.
    """
    return lookup(ENVS, env_id, "environment id")


def make(env_id: str, **overrides: Any) -> MultiAgentEnv:
    """Builds a registered environment, e.g. ``make("lbf-5x5-4p-1f", sight=2)``.

    Raises:
        ValueError: unknown id (see `get_entry`) or an override the environment does not accept
            (the message names it and lists the valid fields).
    """
    entry = get_entry(env_id)
    kwargs = {**entry.defaults, **overrides}
    fields = _accepted_fields(entry.builder)
    if fields is not None:
        unknown = sorted(set(kwargs) - fields)
        if unknown:
            raise ValueError(
                f"environment {env_id!r} has no field {unknown[0]!r}"
                f"{did_you_mean(unknown[0], sorted(fields))}; valid fields: "
                f"{', '.join(sorted(fields))}"
            )
    env = entry.builder(**kwargs)
    env.name = env_id
    return env


def _accepted_fields(builder: Callable[..., MultiAgentEnv]) -> set[str] | None:
    """Field names of the builder's config dataclass, if it declares one as `Config`."""
    config_cls = getattr(builder, "Config", None)
    if config_cls is None or not dataclasses.is_dataclass(config_cls):
        return None
    return {f.name for f in dataclasses.fields(config_cls)}
