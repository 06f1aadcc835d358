"""Evaluation settings (fairforget.metrics.base): validation names the config key."""

from __future__ import annotations

import pytest

from fairforget.errors import ConfigError
from fairforget.metrics.base import EvaluationSettings


def test_settings_validation_names_config_keys():
    settings = EvaluationSettings.from_config({"batch_size": 8, "metrics": ["planted", "seat"]})
    assert settings.batch_size == 8 and settings.bootstrap.samples == 1000
    with pytest.raises(ConfigError, match=r"evaluation.metrics\[1\].*unknown metric 'nope'"):
        EvaluationSettings.from_config({"metrics": ["planted", "nope"]})
    with pytest.raises(ConfigError, match="evaluation.example_correct_threshold"):
        EvaluationSettings.from_config({"example_correct_threshold": 0})
    with pytest.raises(ConfigError, match="evaluation.selective_probe_sets"):
        EvaluationSettings.from_config({"selective_probe_sets": ["bogus"]})
    with pytest.raises(ConfigError, match="evaluation.batch_size"):
        EvaluationSettings.from_config({"batch_size": 0})
