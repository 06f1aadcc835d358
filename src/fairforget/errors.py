"""Exceptions with messages that name the file, line or config key at fault."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


class FairforgetError(Exception):
    """Base class: every error the workflow raises on bad input or a fault."""


class ConfigError(FairforgetError):
    """A config key is missing, unknown or has a bad value."""


def config_section(config: Mapping[str, Any], key: str, allowed: Iterable[str]) -> dict[str, Any]:
    """The mapping `config[key]` ({} when absent); ConfigError naming the key when it is not a mapping or holds a
    key outside `allowed` (the typed settings sections: `analysis:`, `fusion:`)."""
    section = config.get(key) or {}
    if not isinstance(section, Mapping):
        raise ConfigError(f"config key '{key}': expected a mapping")
    known = set(allowed)
    unknown = sorted(set(section) - known)
    if unknown:
        raise ConfigError(f"config key '{key}': unknown key(s) {', '.join(unknown)}; allowed: {sorted(known)}")
    return dict(section)


class DataError(FairforgetError):
    """A data file is missing, malformed or inconsistent."""


class ModelError(FairforgetError):
    """A model directory is missing, partial, tampered with or in a refused format."""


class TrainingError(FairforgetError):
    """Training cannot go on (non-finite loss, bad state)."""


class StoreError(FairforgetError):
    """The result store is inconsistent or cannot be written."""
