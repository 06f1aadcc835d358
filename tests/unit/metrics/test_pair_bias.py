"""Pair-preference statistics (fairforget.metrics.pair_bias), hand-computed."""

from __future__ import annotations

import numpy as np
import pytest

from fairforget.metrics.base import EvaluationSettings
from fairforget.metrics.bootstrap import BootstrapSettings
from fairforget.metrics.pair_bias import pair_preference_statistics

SETTINGS = EvaluationSettings(bootstrap=BootstrapSettings(samples=200, seed=0))


def test_pair_preference_hand_computed():
    stats = pair_preference_statistics(
        np.array([1.0, 0.0, -1.0, 2.0]), np.array([0.0, 0.0, 0.0, 1.0]), ["gender", "gender", "race", "race"], SETTINGS
    )
    assert stats["stereo_preference"].value == 50.0  # the tie (pair 2) does not count as stereotypical
    assert stats["stereo_preference_gender"].value == 50.0 and stats["stereo_preference_gender"].n == 2
    assert stats["logprob_gap"].value == pytest.approx(0.25)  # (1 + 0 - 1 + 1) / 4
    single = pair_preference_statistics(np.array([1.0]), np.array([0.0]), ["gender"], SETTINGS)
    assert "stereo_preference_gender" not in single and single["stereo_preference"].value == 100.0
