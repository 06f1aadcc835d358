"""A model directory as a sequence classifier (fairforget.downstream.classifier): a seeded new head, a pad token
for causal tokenizers, examples encoded the tokenizer's way, batches right-padded with their labels."""

from __future__ import annotations

import pytest
import torch

from downstream_helpers import make_tokenizer, tiny_models  # noqa: F401 (a fixture)
from fairforget.downstream.classifier import (
    accepts_token_type_ids,
    collate,
    encode_examples,
    ensure_pad_token,
    load_classifier,
)
from fairforget.downstream.tasks import Example
from fairforget.errors import ModelError


def test_the_head_is_fixed_by_the_seed(tiny_models) -> None:
    model_dir = tiny_models["masked"][0]
    first, tokenizer, manifest = load_classifier(model_dir, 3, False, seed=4)
    again, _, _ = load_classifier(model_dir, 3, False, seed=4)
    other, _, _ = load_classifier(model_dir, 3, False, seed=5)
    head = {k: v for k, v in first.state_dict().items() if k.startswith("classifier")}
    assert head and all(torch.equal(v, again.state_dict()[k]) for k, v in head.items())
    assert not all(torch.equal(v, other.state_dict()[k]) for k, v in head.items())
    assert first.config.num_labels == 3 and manifest["kind"] == "masked" and accepts_token_type_ids(first)
    regression, _, _ = load_classifier(model_dir, 1, True, seed=4)
    assert regression.config.problem_type == "regression"


def test_a_causal_classifier_pads_with_a_token_it_has(tiny_models) -> None:
    model, tokenizer, _ = load_classifier(tiny_models["causal"][0], 2, False, seed=0)
    assert tokenizer.pad_token_id is not None and model.config.pad_token_id == tokenizer.pad_token_id
    assert not accepts_token_type_ids(model)  # Llama's forward takes no segment ids


def test_no_token_to_pad_with_is_a_model_error() -> None:
    class Bare:
        pad_token_id = eos_token = unk_token = None

    with pytest.raises(ModelError, match="m: the tokenizer has no pad, eos or unk token"):
        ensure_pad_token(Bare(), "m")


def test_pairs_and_singles_encode_the_tokenizers_way() -> None:
    tokenizer = make_tokenizer("masked")
    pair, single = Example("a", "the movie", "was good", 1), Example("c", "the movie", None, 1)
    ids = {w: tokenizer.convert_tokens_to_ids(w) for w in ("[CLS]", "[SEP]", "the", "movie", "was", "good")}
    expected_pair = [ids[w] for w in ("[CLS]", "the", "movie", "[SEP]", "was", "good", "[SEP]")]
    assert encode_examples(tokenizer, [pair], max_length=16)[0]["input_ids"] == expected_pair
    mixed = encode_examples(tokenizer, [pair, single], max_length=16)  # one by one when pairs and singles mix
    assert [m["input_ids"] for m in mixed] == [expected_pair, [ids[w] for w in ("[CLS]", "the", "movie", "[SEP]")]]
    assert len(encode_examples(tokenizer, [pair], max_length=5)[0]["input_ids"]) == 5
    assert encode_examples(tokenizer, [], max_length=5) == []


def test_a_batch_is_right_padded_with_its_labels() -> None:
    tokenizer = make_tokenizer("masked")
    encoded = [
        {"input_ids": [2, 7, 8, 3], "attention_mask": [1, 1, 1, 1], "token_type_ids": [0, 0, 1, 1]},
        {"input_ids": [2, 9], "attention_mask": [1, 1], "token_type_ids": [0, 0]},
    ]
    batch = collate(tokenizer, encoded, [1, 0], is_regression=False, use_token_type_ids=True)
    pad = tokenizer.pad_token_id
    assert batch["input_ids"].tolist() == [[2, 7, 8, 3], [2, 9, pad, pad]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 1], [1, 1, 0, 0]]
    assert batch["token_type_ids"].tolist() == [[0, 0, 1, 1], [0, 0, 0, 0]]
    assert batch["labels"].tolist() == [1, 0] and batch["labels"].dtype == torch.long
    regression = collate(tokenizer, encoded, [0.5, 1.5], is_regression=True)
    assert regression["labels"].dtype == torch.float32 and "token_type_ids" not in regression
    assert "labels" not in collate(tokenizer, encoded, None, is_regression=False)
