"""Fusion settings (fairforget.fusion.settings): which runs are fused, and the config checks."""

from __future__ import annotations

import pytest

from fairforget.config import run_grid
from fairforget.errors import ConfigError
from fairforget.fusion.settings import FusionSettings, alpha_label, fused_runs


def test_settings_filter_and_checks(toy_config):
    config = {**toy_config, "fusion": {"enabled": True, "alphas": [1, 0.5, 0], "objectives": ["cda"]}}
    settings = FusionSettings.from_config(config)
    assert settings.alphas == (0.0, 0.5, 1.0) and settings.fused_alphas == [0.5]
    runs = fused_runs(settings, run_grid(config))
    assert runs and {(r.objective, r.remedy) for r in runs} == {("cda", "none")}
    assert fused_runs(FusionSettings.from_config({"fusion": {}}), run_grid(config)) == []  # off by default
    assert [alpha_label(a) for a in (0.25, 0.5, 0.125, 1e-5, 0, 1)] == ["0.25", "0.5", "0.125", "0.00001", "0", "1"]
    with pytest.raises(ConfigError, match="fusion.objectives': cdx not in"):
        FusionSettings.from_config({"fusion": {"objectives": ["cdx"]}}).check_against(config)
    with pytest.raises(ConfigError, match="fusion.alphas"):
        FusionSettings.from_config({"fusion": {"alphas": [0.5, 0.5]}})
    with pytest.raises(ConfigError, match="unknown key"):
        FusionSettings.from_config({"fusion": {"alpha": [0.5]}})
