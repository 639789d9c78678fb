"""The one-line config error every marta config raises: the field, what it allows, the value."""

from __future__ import annotations


def require(cond: bool, field: str, allowed: str, value: object, *, owner: str = "") -> None:
    """Raises `ValueError("<owner>.<field> must be <allowed>, got <value>")` unless `cond`.

    Bind `owner` once per config class: ``_check = partial(require, owner="TrainConfig")``.
    """
    if not cond:
        name = f"{owner}.{field}" if owner else field
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
