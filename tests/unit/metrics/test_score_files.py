"""A model's scores directory (fairforget.metrics.score_files): written and read back token for token, a text
with no scored token kept as empty, a missing set named, stale base scores caught."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fairforget.errors import DataError
from fairforget.metrics.base import HELDOUT, EvaluationData, ModelScores
from fairforget.metrics.score_files import check_base_consistency, read_scores, write_scores
from fairforget.scoring.scores import TextScores

DATA = EvaluationData(heldout=[{"id": "a", "text": "x y"}, {"id": "b", "text": ""}, {"id": "c", "text": "z"}])


def heldout_scores(logprobs: list[list[float]]) -> ModelScores:
    return ModelScores("causal", {HELDOUT: TextScores(
        [np.arange(len(lp)) for lp in logprobs],
        [np.arange(10, 10 + len(lp)) for lp in logprobs],
        [np.array(lp, float) for lp in logprobs],
        [np.array([v > -1 for v in lp], bool) for lp in logprobs],
    )})  # fmt: skip


def test_scores_round_trip_token_for_token(tmp_path: Path) -> None:
    written = heldout_scores([[-0.5, -2.0], [], [-0.25]])
    write_scores(written, DATA, tmp_path)
    read = read_scores(tmp_path, "causal", DATA, {HELDOUT}).token_sets[HELDOUT]
    original = written.token_sets[HELDOUT]
    for field in ("token_index", "token_id", "logprob", "correct"):
        for got, want in zip(getattr(read, field), getattr(original, field), strict=True):
            np.testing.assert_array_equal(got, want)
    assert len(read.logprob[1]) == 0  # text b: no scored token, still in its place


def test_a_missing_file_or_set_is_named(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="tokens.parquet: file not found"):
        read_scores(tmp_path, "causal", DATA, {HELDOUT})
    write_scores(ModelScores("causal"), EvaluationData(), tmp_path)  # nothing scored
    with pytest.raises(DataError, match="no scores for set 'heldout'; rerun evaluate_base"):
        read_scores(tmp_path, "causal", DATA, {HELDOUT})


def test_stale_base_scores_are_caught_beyond_the_tolerance() -> None:
    stored = heldout_scores([[-0.5, -2.0], [], [-0.25]])
    check_base_consistency(stored, heldout_scores([[-0.50005, -2.0], [], [-0.25]]))  # within 1e-4
    with pytest.raises(DataError, match="set 'heldout' text 2 differ from the base model's"):
        check_base_consistency(stored, heldout_scores([[-0.5, -2.0], [], [-0.3]]))


def test_extra_pass_convention_scores_round_trip_by_item_id(tmp_path: Path) -> None:
    data = EvaluationData(
        pairs={"crows_pairs": [{"id": "p1", "stereo": "s", "anti": "a"}, {"id": "p0", "stereo": "t", "anti": "b"}]}
    )
    name = "crows_pairs.causal.bias_bench"
    written = ModelScores("causal", convention_scores={
        f"{name}.stereo": np.array([-1.0, -2.0]), f"{name}.anti": np.array([-3.0, -4.0])})  # fmt: skip
    write_scores(written, data, tmp_path)
    read = read_scores(tmp_path, "causal", data, set())
    assert set(read.convention_scores) == set(written.convention_scores)
    for key, values in written.convention_scores.items():
        np.testing.assert_array_equal(read.convention_scores[key], values)
    # another probe file (other ids) is refused, not misaligned
    other = EvaluationData(pairs={"crows_pairs": [{"id": "q", "stereo": "s", "anti": "a"}]})
    with pytest.raises(DataError, match="convention set 'crows_pairs.causal.bias_bench.anti' do not match"):
        read_scores(tmp_path, "causal", other, set())
    # a convention of a group not loaded is skipped
    assert read_scores(tmp_path, "causal", EvaluationData(), set()).convention_scores == {}
