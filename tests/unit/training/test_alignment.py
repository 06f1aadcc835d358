"""Counterfactual alignment (fairforget.training.alignment): aligned positions skip swapped words of any length."""

from __future__ import annotations

from fairforget.training import alignment


def test_aligned_positions_skip_swapped_words_of_any_length():
    # "the man said" vs "the wo man said": the swapped word is two pieces in the twin
    assert alignment.aligned_positions([1, 5, 9], [1, 6, 7, 9]) == [(0, 0), (2, 3)]
    assert alignment.aligned_positions([1, 2, 3], [1, 2, 3]) == [(0, 0), (1, 1), (2, 2)]
