"""Evaluation settings (fairforget.metrics.base): validation names the config key."""

from __future__ import annotations

import numpy as np
import pytest

from fairforget.errors import ConfigError, ModelError
from fairforget.metrics.base import EvaluationSettings, ModelScores


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


def test_extra_pass_scores_are_returned_in_the_parts_order_or_refused_naming_the_convention():
    scores = ModelScores("causal", convention_scores={"c.stereo": np.array([1.0]), "c.anti": np.array([2.0])})
    stereo, anti = scores.extra_pass_scores("c", ("stereo", "anti"))
    assert (stereo[0], anti[0]) == (1.0, 2.0)
    with pytest.raises(ModelError, match="'d' needs its extra pass"):
        scores.extra_pass_scores("d", ("stereo", "anti"))
