"""What the scoring conventions need beyond the shared pass (fairforget.evaluation.conventions): truncation flags
per item (either sentence cut), and the extra-pass scores only of the chosen conventions of the model's kind."""

from __future__ import annotations

import numpy as np

from fairforget.evaluation.conventions import score_conventions
from fairforget.metrics.base import EvaluationData, EvaluationSettings, pair_requirement
from fairforget.scoring.start_token import mean_logprob, two_pass_logprobs
from objectives_helpers import tiny

PAIRS = [
    {"id": "0", "stereo": "the nurse said she left", "anti": "the nurse said he left", "bias_type": "gender"},
    {"id": "1", "stereo": "she left", "anti": "he left", "bias_type": "gender"},
]
DATA = EvaluationData(pairs={"crows_pairs": PAIRS})
NEEDS = {pair_requirement("crows_pairs")}
BOS = "crows_pairs.causal.bias_bench_bos"


def test_truncation_flags_and_no_extra_pass_by_default() -> None:
    model, tokenizer = tiny("causal")
    truncated, extra = score_conventions(model, tokenizer, "causal", DATA, NEEDS, EvaluationSettings(max_length=4))
    # <s> + 5 words is cut at 4 tokens; <s> + 2 words is not
    assert truncated["crows_pairs"].tolist() == [True, False] and extra == {}


def test_a_chosen_extra_pass_convention_scores_both_sides_of_each_pair() -> None:
    model, tokenizer = tiny("causal")
    settings = EvaluationSettings(max_length=16, batch_size=2, conventions=(BOS,))
    truncated, extra = score_conventions(model, tokenizer, "causal", DATA, NEEDS, settings)
    assert truncated["crows_pairs"].tolist() == [False, False] and set(extra) == {f"{BOS}.stereo", f"{BOS}.anti"}
    for side in ("stereo", "anti"):
        texts = [p[side] for p in PAIRS]
        expected = mean_logprob(two_pass_logprobs(model, tokenizer, texts, "bos", 2, 16))
        np.testing.assert_allclose(extra[f"{BOS}.{side}"], expected, rtol=0, atol=1e-12)
    assert not np.allclose(extra[f"{BOS}.stereo"], extra[f"{BOS}.anti"])  # the sides are not swapped or shared
    masked, tokenizer = tiny("masked")
    assert score_conventions(masked, tokenizer, "masked", DATA, NEEDS, settings)[1] == {}  # a causal convention
