"""Paired change statistics (fairforget.metrics.paired) on hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fairforget.metrics.bootstrap import BootstrapSettings
from fairforget.metrics.paired import mcnemar_exact_p, paired_preference_change, paired_statistic_change

BOOT = BootstrapSettings(samples=200, seed=0)


@pytest.mark.parametrize(
    ("to_anti", "to_stereo", "expected"),
    [
        (0, 0, 1.0),  # nothing flipped: no evidence
        (5, 0, 2 / 32),  # 2 * P[Bin(5, 1/2) <= 0]
        (3, 1, 2 * (1 + 4) / 16),  # 2 * P[Bin(4, 1/2) <= 1] = 0.625
        (2, 2, 1.0),  # capped at 1
        (10, 2, 2 * (1 + 12 + 66) / 4096),  # 2 * P[Bin(12, 1/2) <= 2]
    ],
)
def test_exact_mcnemar_by_hand(to_anti, to_stereo, expected):
    assert mcnemar_exact_p(to_anti, to_stereo) == pytest.approx(expected)
    assert mcnemar_exact_p(to_stereo, to_anti) == pytest.approx(expected)  # two-sided: symmetric


def test_paired_preference_change_by_hand():
    base = np.array([True, True, True, False])
    tuned = np.array([False, False, True, False])
    out = paired_preference_change(base, tuned, BOOT)
    assert out["paired_change"].value == -50.0 and out["paired_change"].n == 4
    assert (out["flips_to_anti"].value, out["flips_to_stereo"].value) == (2, 0)
    assert out["mcnemar_p"].value == pytest.approx(0.5) and out["mcnemar_p"].n == 2
    # paired: every resample of 4 items changes by a multiple of 25 points, between -100 and 0
    assert -100.0 <= out["paired_change"].ci_low <= out["paired_change"].ci_high <= 0.0


def test_a_checkpoint_equal_to_its_base_shows_no_change():
    prefers = np.array([True, False, True, True, False])
    out = paired_preference_change(prefers, prefers, BOOT)
    change = out["paired_change"]
    assert (change.value, change.ci_low, change.ci_high) == (0.0, 0.0, 0.0)
    assert out["mcnemar_p"].value == 1.0 and out["mcnemar_p"].n == 0


def test_paired_statistic_change_uses_the_same_resample_for_both_models():
    base, tuned = np.arange(6.0), np.arange(6.0) + 1.5  # the same items shifted: every paired replicate is 1.5
    values = {"base": base, "tuned": tuned}
    out = paired_statistic_change(lambda idx, which: float(values[which][idx].mean()), 6, BOOT)
    assert out.value == 1.5 and out.ci_low == pytest.approx(1.5) and out.ci_high == pytest.approx(1.5)
    # unpaired resamples of the two models would spread: the base mean alone ranges over [0, 5]
    assert not math.isnan(out.ci_low)
