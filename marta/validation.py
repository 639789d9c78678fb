"""The one-line config errors every marta config raises: the field, what it allows, the value;
and, for an unknown name, the closest valid one."""

from __future__ import annotations

import difflib
from collections.abc import Sequence


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
