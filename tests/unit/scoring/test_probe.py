"""The training probe's rows (fairforget.scoring.probe.record_probe_correctness) follow the trajectory contract:
general tokens as scored, stereotype pairs by the preference's definition."""

from __future__ import annotations

import numpy as np
import pytest

from fairforget.scoring.dispatch import score_texts
from fairforget.scoring.probe import record_probe_correctness
from scoring_helpers import TEXTS, causal, masked  # noqa: F401 (fixtures)


@pytest.mark.parametrize("kind", ["masked", "causal"])
def test_probe_rows_follow_trajectory_contract(kind, masked, causal):
    model, _, tokenizer = masked if kind == "masked" else causal
    general = [{"id": "g0", "text": TEXTS[0]}, {"id": "g1", "text": TEXTS[1]}]
    pairs = [
        {"id": "p0", "stereo": "she is a nurse", "anti": "he is a nurse"},
        {"id": "p1", "stereo": "he is an engineer", "anti": "she is an engineer"},
    ]
    rows = record_probe_correctness(model, tokenizer, kind, general, pairs, batch_size=4, max_length=64, step=7)
    scores = score_texts(model, tokenizer, kind, [TEXTS[0], TEXTS[1]])
    general_rows = [r for r in rows if r["probe_set"] == "general"]
    assert [r["item_id"] for r in general_rows[:2]] == ["g0:0", "g0:1"]
    assert len(general_rows) == sum(len(c) for c in scores.correct)
    assert [r["correct"] for r in general_rows] == [bool(x) for c in scores.correct for x in c]
    # expected by the definition: masked = the pronoun's PLL term (the pairs differ in one token, same length),
    # rounded to 3 decimals; causal = mean token log-probability given BOS
    both = score_texts(model, tokenizer, kind, [p["stereo"] for p in pairs] + [p["anti"] for p in pairs])
    expected = []
    for i in range(2):
        (s_ids, a_ids), (s_lp, a_lp) = (both.token_id[i], both.token_id[2 + i]), (both.logprob[i], both.logprob[2 + i])
        if kind == "masked":
            pronoun = np.flatnonzero(s_ids != a_ids)
            assert len(pronoun) == 1
            expected.append(round(float(s_lp[pronoun[0]]), 3) > round(float(a_lp[pronoun[0]]), 3))
        else:
            expected.append(float(s_lp.mean()) > float(a_lp.mean()))
    stereo_rows = [r for r in rows if r["probe_set"] == "stereotype"]
    assert [(r["item_id"], r["correct"]) for r in stereo_rows] == [("p0", expected[0]), ("p1", expected[1])]
    assert all(r["step"] == 7 and isinstance(r["correct"], bool) for r in rows)
    plain = record_probe_correctness(model, tokenizer, kind, [TEXTS[0]], [("she is", "he is")], 4, 64)
    assert plain[0]["item_id"] == "0:0" and "step" not in plain[0]
