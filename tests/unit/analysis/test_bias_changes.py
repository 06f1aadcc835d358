"""Paired bias-change columns and the interval over seeds (fairforget.analysis.bias_changes), by hand."""

from __future__ import annotations

import math

import polars as pl
import pytest

from fairforget.analysis.bias_changes import (
    PairedScore,
    model_kinds,
    paired_score_of,
    paired_scores,
    seed_cells,
    seed_interval,
)


def test_seed_interval_by_hand():
    # changes 1, 2, 3: mean 2, sd 1; t_{0.975, 2} = 4.303 (tables): 2 +- 4.303 / sqrt(3) = 2 +- 2.484
    out = seed_interval([1.0, 2.0, 3.0])
    assert (out.mean, out.sd, out.seeds) == (2.0, 1.0, 3)
    assert out.low == pytest.approx(2 - 4.303 / math.sqrt(3), abs=1e-3)
    assert out.high == pytest.approx(2 + 4.303 / math.sqrt(3), abs=1e-3)
    # two seeds: t_{0.975, 1} = 12.706; changes -1, 1: mean 0, sd sqrt(2), half width 12.706 * sqrt(2) / sqrt(2)
    two = seed_interval([-1.0, 1.0])
    assert two.high == pytest.approx(12.706, abs=1e-3) and two.low == pytest.approx(-12.706, abs=1e-3)


def test_seed_interval_needs_two_seeds_and_skips_missing_values():
    one = seed_interval([5.0, None, float("nan")])
    assert (one.mean, one.low, one.high, one.seeds) == (5.0, None, None, 1)
    assert seed_interval([]).seeds == 0 and seed_interval([]).mean is None
    constant = seed_interval([4.0, 4.0, 4.0])
    assert (constant.low, constant.high) == (4.0, 4.0)


def _frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "model": ["m", "m", "m", "n"],
            "objective": ["cda"] * 4,
            "remedy": ["none"] * 4,
            "size": ["full"] * 4,
            "seed": [1, 0, 2, 0],
            "crows_pairs.paired_change": [3.0, 1.0, 2.0, 9.0],
            "crows_pairs.lm_eval.paired_change": [None, None, None, 1.0],
            "stereoset.ss_paired_change": [None, None, None, None],  # no value: not a score here
            "crows_pairs.paired_change.ci_low": [0.0] * 4,
            "stereoset.ss_paired_change_mother": [1.0] * 4,  # per target: not in the main list
        }
    )


def test_paired_scores_are_found_by_column_name_own_column_first():
    scores = paired_scores(_frame())
    assert [s.column for s in scores] == ["crows_pairs.paired_change", "crows_pairs.lm_eval.paired_change"]
    assert scores[1].sibling("mcnemar_p") == "crows_pairs.lm_eval.mcnemar_p"
    assert scores[1].score == "crows_pairs.lm_eval.stereo_preference"


def test_seed_cells_group_a_cells_seeds():
    cells = seed_cells(_frame(), "crows_pairs.paired_change")
    assert len(cells) == 1  # model n has one seed
    cell, interval = cells[0]
    assert cell == {"model": "m", "objective": "cda", "remedy": "none", "size": "full"}
    assert (interval.mean, interval.seeds) == (2.0, 3)


def test_paired_score_of_a_bias_column():
    assert paired_score_of("stereoset.bias_bench.ss") == PairedScore("stereoset", "bias_bench", "ss_paired_change")
    assert paired_score_of("crows_pairs.stereo_preference") == PairedScore("crows_pairs", None, "paired_change")
    for no_change in ("crows_pairs.stereo_preference_gender", "stereoset.lms", "seat.mean_abs_effect_size", None):
        assert paired_score_of(no_change) is None


def test_conventions_are_named_per_model_kind():
    own = PairedScore("crows_pairs", None, "paired_change")
    assert own.convention("masked") == "crows_pairs.masked.metric_py"
    assert own.convention("causal") == "crows_pairs.causal.one_pass_mean"
    assert own.convention("causal", "sum") == "crows_pairs.causal.lm_eval"
    assert PairedScore("stereoset", None, "ss_paired_change").convention("causal") == "stereoset.causal.one_pass"
    assert PairedScore("crows_pairs", "lm_eval", "paired_change").convention("causal") == "crows_pairs.causal.lm_eval"
    assert "modified tokens, mean" in PairedScore("planted", None, "paired_change").convention("masked")
    assert model_kinds({"models": {"a": {"kind": "masked"}}}) == {"a": "masked"}
