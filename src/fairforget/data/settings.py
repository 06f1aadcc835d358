"""Typed access to the `data:` config section, with errors naming the full config key."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, overload

from fairforget.errors import ConfigError

_MISSING = object()


def _value(section: Mapping[str, Any], name: str, key: str, default: Any) -> Any:
    if name in section:
        return section[name]
    if default is _MISSING:
        raise ConfigError(f"config key '{key}.{name}' is required")
    return default


@overload
def get_int(
    section: Mapping[str, Any],
    name: str,
    key: str,
    *,
    default: Any = ...,
    minimum: int | None = ...,
    optional: Literal[False] = ...,
) -> int: ...


@overload
def get_int(
    section: Mapping[str, Any],
    name: str,
    key: str,
    *,
    default: Any = ...,
    minimum: int | None = ...,
    optional: Literal[True],
) -> int | None: ...


def get_int(
    section: Mapping[str, Any],
    name: str,
    key: str,
    *,
    default: Any = _MISSING,
    minimum: int | None = None,
    optional: bool = False,
) -> int | None:
    """An integer setting; `optional` allows null (meaning "no limit")."""
    value = _value(section, name, key, default)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        expected = "an integer or null" if optional else "an integer"
        raise ConfigError(f"config key '{key}.{name}': expected {expected}, got {value!r}")
    if minimum is not None and value < minimum:
        raise ConfigError(f"config key '{key}.{name}': must be >= {minimum}, got {value}")
    return value


def get_float(
    section: Mapping[str, Any], name: str, key: str, *, default: Any = _MISSING, low: float, high: float
) -> float:
    value = _value(section, name, key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= float(value) <= high:
        raise ConfigError(f"config key '{key}.{name}': expected a number in [{low}, {high}], got {value!r}")
    return float(value)


def get_str_list(section: Mapping[str, Any], name: str, key: str, *, default: Any = _MISSING) -> list[str]:
    value = _value(section, name, key, default)
    if not isinstance(value, list | tuple) or not value or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"config key '{key}.{name}': expected a non-empty list of names, got {value!r}")
    return list(value)


def seeded_subset(items: list[Any], limit: int | None, seed: int, salt: str) -> list[Any]:
    """At most `limit` items drawn without replacement with a fixed seed, kept in their original order.

    `salt` names the draw (e.g. "heldout") so two draws with the same seed are independent.
    None or a limit >= len(items) keeps everything.
    """
    import random

    if limit is None or limit >= len(items):
        return list(items)
    rng = random.Random(f"{seed}:{salt}")
    chosen = sorted(rng.sample(range(len(items)), limit))
    return [items[i] for i in chosen]
