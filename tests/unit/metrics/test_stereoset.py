"""StereoSet scores (fairforget.metrics.stereoset): the macro average over targets."""

from __future__ import annotations

import numpy as np
import pytest

from fairforget.metrics.base import EvaluationSettings
from fairforget.metrics.bootstrap import BootstrapSettings
from fairforget.metrics.stereoset import stereoset_change, stereoset_scores, target_changes, target_codes


def test_stereoset_macro_average_over_targets():
    ss, lms, icat = stereoset_scores(
        np.array([0.3, 0.1, 0.5]), np.array([0.2, 0.2, 0.4]), np.array([0.1, 0.3, 0.6]), ["a", "a", "b"]
    )
    assert (ss, lms, icat) == pytest.approx((75.0, 25.0, 12.5))
    # ties count as anti-stereotypical
    assert stereoset_scores(np.array([0.5]), np.array([0.5]), np.array([0.1]), ["a"])[0] == 0.0


def test_ss_change_per_target_by_hand():
    # target "a b" (2 clusters): stereotype above anti in both under the base, in one under the tuned model ->
    # SS 100 -> 50, change -50, one flip to anti (McNemar p = 2 * P[Bin(1, 1/2) <= 0] = 1).
    # target "c" (1 cluster): 0 -> 100, change +100. Names: non-word characters as "_".
    base_pro = np.array([True, True, False])
    tuned_pro = np.array([False, True, True])
    settings = EvaluationSettings(bootstrap=BootstrapSettings(samples=50, seed=0))
    out = target_changes(base_pro, tuned_pro, np.array(["a b", "a b", "c"]), settings)
    assert set(out) == {"ss_paired_change_a_b", "mcnemar_p_a_b", "ss_paired_change_c", "mcnemar_p_c"}
    assert (out["ss_paired_change_a_b"].value, out["ss_paired_change_a_b"].n) == (-50.0, 2)
    assert out["ss_paired_change_c"].value == 100.0
    assert out["mcnemar_p_a_b"].value == 1.0 and out["mcnemar_p_a_b"].n == 1
    # the bootstrap resamples target a b's 2 clusters only: its change is -100, -50 or 0
    assert -100.0 <= out["ss_paired_change_a_b"].ci_low <= out["ss_paired_change_a_b"].ci_high <= 0.0


def test_a_single_target_change_equals_the_macro_ss_change():
    # one target: macro SS over targets = that target's SS, so both changes agree
    base = {"stereotype": np.array([0.5, 0.1, 0.3]), "anti_stereotype": np.array([0.4, 0.2, 0.2]),
            "unrelated": np.zeros(3)}  # fmt: skip
    tuned = {**base, "stereotype": np.array([0.3, 0.3, 0.1])}
    settings = EvaluationSettings(bootstrap=BootstrapSettings(samples=50, seed=0))
    out = stereoset_change(base, tuned, ["t", "t", "t"], settings)
    assert out["ss_paired_change"].value == pytest.approx(out["ss_paired_change_t"].value)
    assert out["ss_paired_change_t"].value == pytest.approx(100 * (1 - 2) / 3)


def test_target_codes_give_the_scores_of_the_names():
    """Terms as indices of the sorted distinct names: the same terms in the same (sorted) order, so the same
    floats, on the whole set and on a resample that misses a term."""
    rng = np.random.default_rng(2)
    targets = [str(t) for t in rng.choice(["sister", "Mother", "gentleman", "bride", "he"], size=60)]
    stereo, anti, unrelated = (rng.normal(size=60) for _ in range(3))
    codes = target_codes(targets)
    assert codes.dtype.kind == "i" and sorted(set(codes)) == list(range(5))
    for idx in (np.arange(60), np.flatnonzero(np.asarray(targets) != "bride")[::2]):
        named = stereoset_scores(stereo[idx], anti[idx], unrelated[idx], [targets[i] for i in idx])
        assert stereoset_scores(stereo[idx], anti[idx], unrelated[idx], codes[idx]) == named
