"""The one-line errors every marta config raises: the field, what it allows, the value; and,
for a name missing from a registry, the closest valid one."""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import TypeVar

from marta.plugins import HINT

T = TypeVar("T")


def require(cond: bool, field: str, allowed: str, value: object, *, owner: str = "") -> None:
    """Raises `ValueError("<owner>.<field> must be <allowed>, got <value>")` unless `cond`.

    Bind `owner` once per config class: ``_check = partial(require, owner="TrainConfig")``.
    """
    if not cond:
        name = f"{owner}.{field}" if owner else field
        raise ValueError(f"{name} must be {allowed}, got {value!r}")


def did_you_mean(name: str, options: Sequence[str]) -> str:
    """`` (did you mean 'x'?)`` for the option closest to `name`, or ``""`` if none is close."""
    close = difflib.get_close_matches(name, options, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def lookup(registry: Mapping[str, T], name: str, what: str) -> T:
    """``registry[name]``, or a ValueError that names `what` was asked for, the closest
    registered name, every registered name, and how a plugin's names are loaded.

    Every registry a plugin can add to (environments, learners, mixers, fault policies) is
    read through this, so an unknown name reads the same everywhere.
    """
    if name not in registry:
        valid = sorted(registry)
        raise ValueError(
            f"unknown {what} {name!r}{did_you_mean(str(name), valid)}; valid: "
            f"{', '.join(valid)} ({HINT})"
        )
    return registry[name]
