"""Errors (fairforget.errors): one base class, and `config_section` naming the key at fault."""

from __future__ import annotations

import pytest

from fairforget.errors import (
    ConfigError,
    DataError,
    FairforgetError,
    ModelError,
    StoreError,
    TrainingError,
    config_section,
)


def test_every_error_is_a_fairforget_error() -> None:
    for error in (ConfigError, DataError, ModelError, TrainingError, StoreError):
        assert issubclass(error, FairforgetError) and error is not FairforgetError


def test_config_section_returns_a_copy_or_empty_when_absent() -> None:
    config = {"fusion": {"enabled": True}, "analysis": None}
    section = config_section(config, "fusion", ["enabled", "alphas"])
    assert section == {"enabled": True}
    section["enabled"] = False
    assert config["fusion"] == {"enabled": True}  # a copy: the config is not changed through it
    assert config_section(config, "analysis", ["permutations"]) == {}  # `analysis:` with nothing under it
    assert config_section(config, "missing", []) == {}


def test_config_section_names_the_key_of_a_bad_section() -> None:
    with pytest.raises(ConfigError, match="config key 'fusion': expected a mapping"):
        config_section({"fusion": [1, 2]}, "fusion", ["enabled"])
    with pytest.raises(ConfigError, match=r"config key 'fusion': unknown key\(s\) alpha, x; allowed: \['alphas'\]"):
        config_section({"fusion": {"x": 1, "alpha": 2, "alphas": [0.5]}}, "fusion", ["alphas"])
