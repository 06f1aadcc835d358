"""The `analysis:` settings (fairforget.analysis.settings): unknown and out-of-range keys are config errors naming
the key."""

from __future__ import annotations

import pytest

from fairforget.analysis.settings import AnalysisSettings
from fairforget.errors import ConfigError


def test_unknown_analysis_key_is_a_config_error():
    with pytest.raises(ConfigError, match="analysis"):
        AnalysisSettings.from_config({"analysis": {"bootstrap_samples": 10}})
    with pytest.raises(ConfigError, match="analysis.equivalence_margin"):
        AnalysisSettings.from_config({"analysis": {"equivalence_margin": 0}})
    with pytest.raises(ConfigError, match="analysis.permutations"):
        AnalysisSettings.from_config({"analysis": {"permutations": 10}})
