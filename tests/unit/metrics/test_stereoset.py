"""StereoSet scores (fairforget.metrics.stereoset): the macro average over targets."""

from __future__ import annotations

import numpy as np
import pytest

from fairforget.metrics.stereoset import stereoset_scores


def test_stereoset_macro_average_over_targets():
    ss, lms, icat = stereoset_scores(
        np.array([0.3, 0.1, 0.5]), np.array([0.2, 0.2, 0.4]), np.array([0.1, 0.3, 0.6]), ["a", "a", "b"]
    )
    assert (ss, lms, icat) == pytest.approx((75.0, 25.0, 12.5))
    # ties count as anti-stereotypical
    assert stereoset_scores(np.array([0.5]), np.array([0.5]), np.array([0.1]), ["a"])[0] == 0.0
