"""Scoring: batched PLL / causal log-probs against straightforward one-at-a-time computations."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fairforget.errors import ModelError
from fairforget.scoring.dispatch import score_texts, score_texts_joint
from fairforget.scoring.pairs import (
    pair_scoring,
    pair_sentence_scores,
    prefers_stereotype,
    unmodified_token_positions,
)
from scoring_helpers import TEXTS, causal, masked  # noqa: F401 (fixtures)

torch.set_num_threads(1)


def naive_pll(model, tokenizer, text):
    """One forward pass per masked token, no batching, no padding."""
    enc = tokenizer(text, return_special_tokens_mask=True)
    ids = torch.tensor([enc["input_ids"]])
    logprobs, correct, dists = [], [], []
    with torch.no_grad():
        for pos, special in enumerate(enc["special_tokens_mask"]):
            if special:
                continue
            masked_ids = ids.clone()
            masked_ids[0, pos] = tokenizer.mask_token_id
            logits = model.eval()(input_ids=masked_ids).logits[0, pos].double()
            dist = torch.log_softmax(logits, -1)
            logprobs.append(dist[ids[0, pos]].item())
            correct.append(int(logits.argmax()) == int(ids[0, pos]))
            dists.append(dist)
    return np.array(logprobs), np.array(correct), dists


def naive_causal(model, tokenizer, text):
    """One forward pass per text; position p is predicted from logits at p-1."""
    ids = torch.tensor([tokenizer(text)["input_ids"]])
    assert ids[0, 0] == tokenizer.bos_token_id
    with torch.no_grad():
        logits = model.eval()(input_ids=ids).logits[0].double()
    dist = torch.log_softmax(logits[:-1], -1)
    targets = ids[0, 1:]
    lp = dist.gather(1, targets[:, None]).squeeze(1).numpy()
    ok = (logits[:-1].argmax(-1) == targets).numpy()
    return lp, ok, list(dist)


@pytest.mark.parametrize("batch_size", [1, 3, 64])
def test_masked_batched_pll_equals_one_forward_per_token(masked, batch_size):
    model, _, tokenizer = masked
    scores = score_texts(model, tokenizer, "masked", TEXTS, batch_size=batch_size, max_length=64)
    for i, text in enumerate(TEXTS):
        lp, ok, _ = naive_pll(model, tokenizer, text)
        assert len(lp) > 0
        np.testing.assert_allclose(scores.logprob[i], lp, atol=1e-6, rtol=0)
        np.testing.assert_array_equal(scores.correct[i], ok)
        np.testing.assert_array_equal(scores.token_index[i], np.arange(len(lp)))
    assert scores.total_logprob()[0] == pytest.approx(naive_pll(model, tokenizer, TEXTS[0])[0].sum(), abs=1e-6)


@pytest.mark.parametrize("batch_size", [1, 2, 64])
def test_causal_batched_equals_unbatched(causal, batch_size):
    model, _, tokenizer = causal
    scores = score_texts(model, tokenizer, "causal", TEXTS, batch_size=batch_size, max_length=64)
    for i, text in enumerate(TEXTS):
        lp, ok, _ = naive_causal(model, tokenizer, text)
        np.testing.assert_allclose(scores.logprob[i], lp, atol=1e-6, rtol=0)
        np.testing.assert_array_equal(scores.correct[i], ok)


def test_causal_first_token_is_scored_given_bos_only(causal):
    model, _, tokenizer = causal
    scores = score_texts(model, tokenizer, "causal", TEXTS, batch_size=4, max_length=64)
    first = tokenizer(TEXTS[2])["input_ids"][1]
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([[tokenizer.bos_token_id]])).logits[0, 0].double()
    assert scores.logprob[2][0] == pytest.approx(torch.log_softmax(logits, -1)[first].item(), abs=1e-6)


@pytest.mark.parametrize("kind", ["masked", "causal"])
def test_position_subset_matches_full_scores(kind, masked, causal):
    model, _, tokenizer = masked if kind == "masked" else causal
    full = score_texts(model, tokenizer, kind, TEXTS, batch_size=5)
    subset = [[0, 2], None, [1, 99], [], [2]]
    part = score_texts(model, tokenizer, kind, TEXTS, batch_size=5, positions=subset)
    for i, chosen in enumerate(subset):
        n = len(full.logprob[i])
        expected = np.arange(n) if chosen is None else np.array([k for k in chosen if k < n], dtype=int)
        np.testing.assert_array_equal(part.token_index[i], expected)
        np.testing.assert_allclose(part.logprob[i], full.logprob[i][expected], atol=1e-6, rtol=0)


@pytest.mark.parametrize("kind", ["masked", "causal"])
def test_joint_kl_matches_direct_computation(kind, masked, causal):
    base, tuned, tokenizer = masked if kind == "masked" else causal
    naive = naive_pll if kind == "masked" else naive_causal
    joint = score_texts_joint(base, tuned, tokenizer, kind, TEXTS, batch_size=4)
    alone = score_texts(tuned, tokenizer, kind, TEXTS, batch_size=4)
    for i, text in enumerate(TEXTS):
        _, _, base_dists = naive(base, tokenizer, text)
        _, _, tuned_dists = naive(tuned, tokenizer, text)
        kl = [float((b.exp() * (b - t)).sum()) for b, t in zip(base_dists, tuned_dists)]
        np.testing.assert_allclose(joint.kl[i], kl, atol=1e-6, rtol=0)
        assert (joint.kl[i] > 0).all()
        np.testing.assert_allclose(joint.tuned.logprob[i], alone.logprob[i], atol=1e-6, rtol=0)
    same = score_texts_joint(base, base, tokenizer, kind, TEXTS, batch_size=4)
    assert max(float(np.abs(k).max()) for k in same.kl) < 1e-9


@pytest.mark.parametrize("kind", ["masked", "causal"])
def test_scoring_is_deterministic_and_restores_training_flag(kind, masked, causal):
    model, _, tokenizer = masked if kind == "masked" else causal
    model.train()
    first = score_texts(model, tokenizer, kind, TEXTS, batch_size=3)
    assert model.training
    second = score_texts(model, tokenizer, kind, TEXTS, batch_size=3)
    for a, b in zip(first.logprob, second.logprob):
        assert np.array_equal(a, b)
    model.eval()


def test_truncation_limits_scored_tokens(masked, causal):
    for kind, (model, _, tokenizer) in (("masked", masked), ("causal", causal)):
        scores = score_texts(model, tokenizer, kind, [TEXTS[2]], max_length=5)
        assert len(scores.logprob[0]) == (3 if kind == "masked" else 4)


def test_unmodified_token_positions_hand_cases():
    assert unmodified_token_positions([1, 2, 3, 4], [1, 5, 3, 4]) == ([0, 2, 3], [0, 2, 3])
    assert unmodified_token_positions([1, 2, 3], [1, 9, 9, 2, 3]) == ([0, 1, 2], [0, 3, 4])
    assert unmodified_token_positions([7, 8], [7, 8]) == ([0, 1], [0, 1])
    assert unmodified_token_positions([5], [6]) == ([], [])


def test_pair_scores_sum_unmodified_pll_terms(masked):
    model, _, tokenizer = masked
    stereo, anti = "the nurse said that she would help", "the nurse said that he would help"
    both = score_texts(model, tokenizer, "masked", [stereo, anti])
    s, a = pair_sentence_scores(both.slice(0, 1), both.slice(1, 2), pair_scoring("masked", "crows_pairs"))
    lp_s, _, _ = naive_pll(model, tokenizer, stereo)
    lp_a, _, _ = naive_pll(model, tokenizer, anti)
    shared = [k for k in range(len(lp_s)) if k != 4]  # token 4 is she/he; the rest are unmodified
    assert s[0] == pytest.approx(lp_s[shared].sum(), abs=1e-6)
    assert a[0] == pytest.approx(lp_a[shared].sum(), abs=1e-6)
    assert prefers_stereotype(np.array([1.0, 0.0, -1.0]), np.array([0.0, 0.0, 0.0])).tolist() == [True, False, False]


def test_bad_tokenizers_raise_model_errors(masked, causal):
    model, _, masked_tokenizer = masked
    causal_model, _, causal_tokenizer = causal
    with pytest.raises(ModelError, match="mask token"):
        score_texts(causal_model, causal_tokenizer, "masked", TEXTS)
    with pytest.raises(ModelError, match="kind"):
        score_texts(model, masked_tokenizer, "seq2seq", TEXTS)
    with pytest.raises(ModelError, match="positions"):
        score_texts(model, masked_tokenizer, "masked", TEXTS, positions=[[0]])


@pytest.mark.parametrize("seed", range(20))
def test_unmodified_positions_are_equal_increasing_and_cover_identical_sentences(seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 6, size=rng.integers(0, 12)).tolist()
    b = rng.integers(0, 6, size=rng.integers(0, 12)).tolist()
    pos_a, pos_b = unmodified_token_positions(a, b)
    assert len(pos_a) == len(pos_b)
    assert all(a[i] == b[j] for i, j in zip(pos_a, pos_b))
    assert pos_a == sorted(set(pos_a)) and pos_b == sorted(set(pos_b))
    assert unmodified_token_positions(a, a) == (list(range(len(a))), list(range(len(a))))
