"""The data dictionary (fairforget.analysis.dictionary) describes the known statistics."""

from __future__ import annotations


def test_dictionary_describes_known_statistics():
    from fairforget.analysis.dictionary import describe

    assert "on the stereotypical sentences" in describe("selective_forgetting.stereo_mean_loss_change")
    assert "tuned minus base" in describe("planted.stereo_preference.change")
    assert "`mystery_stat`" in describe("overall_forgetting.mystery_stat")
