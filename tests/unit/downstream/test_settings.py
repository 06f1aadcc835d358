"""The `downstream:` settings (fairforget.downstream.settings): bias-bench defaults, errors naming the key."""

from __future__ import annotations

import pytest

from downstream_helpers import contains_good_records, good_task_dir, make_model_dir, tiny_models, write_task  # noqa: F401
from fairforget.downstream.settings import DownstreamSettings, parse_settings
from fairforget.errors import ConfigError


def test_settings_defaults_are_bias_bench_and_errors_name_keys():
    defaults = parse_settings(None)
    assert defaults == DownstreamSettings()
    assert (defaults.max_length, defaults.batch_size, defaults.learning_rate, defaults.epochs) == (128, 32, 2e-5, 3)
    assert defaults.mode == {"masked": "finetune", "causal": "finetune"}
    assert parse_settings({"mode": {"causal": "zeroshot"}}).mode == {"masked": "finetune", "causal": "zeroshot"}
    with pytest.raises(ConfigError, match="downstream.mode.masked"):
        parse_settings({"mode": {"masked": "zeroshot"}})
    with pytest.raises(ConfigError, match="downstream.learning_rate"):
        parse_settings({"learning_rate": "fast"})
    with pytest.raises(ConfigError, match="unknown key.*lr"):
        parse_settings({"lr": 0.1})
    with pytest.raises(ConfigError, match="downstream.lora.r"):
        parse_settings({"lora": {"r": 0}})
    assert parse_settings({"mode": {"masked": "linear_probe", "causal": "linear_probe"}}).mode == {
        "masked": "linear_probe",
        "causal": "linear_probe",
    }
    assert (defaults.linear_probe.l2, defaults.linear_probe.max_iter) == (0.01, 200)
    probe = parse_settings({"linear_probe": {"l2": 0, "max_iter": 7}})
    assert probe.linear_probe_settings() == {"max_length": 128, "eval_batch_size": 64, "l2": 0.0, "max_iter": 7}
    assert "linear_probe" not in probe.training_settings()
    with pytest.raises(ConfigError, match="downstream.linear_probe.max_iter"):
        parse_settings({"linear_probe": {"max_iter": 0}})
    with pytest.raises(ConfigError, match="downstream.linear_probe.*unknown key.*C"):
        parse_settings({"linear_probe": {"C": 1.0}})
