"""The data dictionary and figure labels name the scoring convention behind each bias column (docs/metrics.md §5.1)."""

from __future__ import annotations

from fairforget.analysis.dictionary import describe, label


def test_convention_columns_name_their_convention():
    text = describe("crows_pairs.lm_eval.stereo_preference")
    assert "scored under the convention `lm_eval`" in text and "percentage of pairs" in text
    assert describe("crows_pairs.lm_eval.stereo_preference.ci_low").endswith("reported by the producing stage.")
    assert label("stereoset.bias_bench.ss").detail == "stereotype score SS (bias_bench)"


def test_default_bias_columns_say_which_convention_they_follow():
    assert "`metric_py`" in describe("crows_pairs.stereo_preference")
    assert "`one_pass`" in describe("stereoset.ss")
    assert "convention" not in describe("planted.stereo_preference")  # one convention only
    assert "cut by evaluation.max_length" in describe("crows_pairs.truncated_items")


def test_per_target_stereoset_changes_are_described_and_labelled():
    text = describe("stereoset.ss_paired_change_mother")
    assert "target term `mother`" in text and "paired bootstrap" in text
    assert "convention `one_pass`" in describe("stereoset.one_pass.mcnemar_p_mother")
    assert label("stereoset.ss_paired_change_mother").detail == "SS change tuned − base, target mother"
    assert (
        label("stereoset.one_pass.ss_paired_change_mother").detail == "SS change tuned − base, target mother (one_pass)"
    )
