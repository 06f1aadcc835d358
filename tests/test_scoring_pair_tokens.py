"""Pair scoring for masked LMs: CrowS-Pairs scores shared tokens, pronoun-swap pairs score the pronoun."""

from __future__ import annotations

import numpy as np
import pytest

from fairforget.scoring.pairs import pair_masked_tokens, pair_sentence_scores
from fairforget.scoring.scores import TextScores


def _scores(ids: list[list[int]], logprobs: list[list[float]]) -> TextScores:
    return TextScores(
        token_index=[np.arange(len(i)) for i in ids],
        token_id=[np.array(i, np.int64) for i in ids],
        logprob=[np.array(lp, np.float64) for lp in logprobs],
        correct=[np.zeros(len(i), bool) for i in ids],
    )


# "the nurse said she left" vs "the nurse said he left": token 3 differs (she=7 / he=8)
STEREO = _scores([[1, 2, 3, 7, 4]], [[-1.0, -2.0, -0.5, -0.25, -3.0]])
ANTI = _scores([[1, 2, 3, 8, 4]], [[-1.5, -2.0, -0.5, -1.25, -3.5]])


def test_unmodified_tokens_sum_the_shared_context() -> None:
    stereo, anti = pair_sentence_scores("masked", STEREO, ANTI, "unmodified")
    assert stereo[0] == pytest.approx(-1.0 - 2.0 - 0.5 - 3.0)
    assert anti[0] == pytest.approx(-1.5 - 2.0 - 0.5 - 3.5)


def test_modified_tokens_score_the_pronoun_only() -> None:
    stereo, anti = pair_sentence_scores("masked", STEREO, ANTI, "modified")
    assert stereo[0] == pytest.approx(-0.25)
    assert anti[0] == pytest.approx(-1.25)


def test_causal_pairs_use_the_whole_sentence_whatever_the_mode() -> None:
    stereo, anti = pair_sentence_scores("causal", STEREO, ANTI, "modified")
    assert stereo[0] == pytest.approx(-6.75) and anti[0] == pytest.approx(-8.75)


def test_which_sets_score_which_tokens() -> None:
    assert pair_masked_tokens("crows_pairs") == "unmodified"
    assert pair_masked_tokens("planted") == pair_masked_tokens("winobias") == "modified"
    with pytest.raises(ValueError, match="masked_tokens"):
        pair_sentence_scores("masked", STEREO, ANTI, "all")
