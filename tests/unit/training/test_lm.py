"""Tokenisation, MLM masking, causal labels and the LM loss (fairforget.training.lm) plus the `none` objective."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fairforget.training import lm
from fairforget.training.plugins import OBJECTIVES
from objectives_helpers import (
    DEBIAS_TEXTS,
    GENERAL_TEXTS,
    STEREO_PAIRS,
    bert_tokenizer,
    context,
    generator,
    llama_tokenizer,
    tiny,
)

torch.set_num_threads(1)
_BERT_TOKENIZER = bert_tokenizer()


def test_tokenize_pads_right_and_truncates():
    _, tokenizer = tiny("masked")
    encoded = lm.tokenize(tokenizer, ["he is a nurse", "the man said that the nurse was tired and very late"], 6)
    assert encoded["input_ids"].shape == (2, 6)
    assert encoded["attention_mask"][0].tolist() == [1, 1, 1, 1, 1, 1]
    short = lm.tokenize(tokenizer, ["he is", "the man said that"], 16)
    assert short["attention_mask"][0].tolist() == [1, 1, 1, 1, 0, 0]
    # padding counts as special
    assert short["special_tokens_mask"][0].tolist() == [True, False, False, True, True, True]


def test_masking_never_touches_special_or_padding_tokens():
    _, tokenizer = tiny("masked")
    encoded = lm.tokenize(tokenizer, DEBIAS_TEXTS, 16)
    for seed in range(20):
        corrupted, labels = lm.mask_tokens(
            encoded["input_ids"], ~encoded["special_tokens_mask"], tokenizer, generator(seed), mlm_probability=0.9
        )
        special = encoded["special_tokens_mask"]
        assert torch.equal(corrupted[special], encoded["input_ids"][special])
        assert bool((labels[special] == lm.IGNORE_INDEX).all())
        selected = labels != lm.IGNORE_INDEX
        assert torch.equal(labels[selected], encoded["input_ids"][selected])
        assert bool(selected.any())


def test_masking_follows_the_80_10_10_recipe():
    _, tokenizer = tiny("masked")
    mask_id = tokenizer.mask_token_id
    ids = torch.full((200, 200), 20, dtype=torch.long)  # one ordinary token everywhere
    corrupted, labels = lm.mask_tokens(ids, torch.ones_like(ids, dtype=torch.bool), tokenizer, generator(1), 0.15)
    selected = labels != lm.IGNORE_INDEX
    n = selected.sum().item()
    assert abs(n / ids.numel() - 0.15) < 0.01
    as_mask = (corrupted[selected] == mask_id).float().mean().item()
    kept = (corrupted[selected] == 20).float().mean().item()
    random_other = 1 - as_mask - kept
    assert abs(as_mask - 0.8) < 0.02
    # a random draw can hit token 20 itself (1/len(vocab)), so "kept" is slightly above 10%
    assert abs(kept - (0.1 + 0.1 / len(tokenizer))) < 0.015
    assert abs(random_other - 0.1 * (1 - 1 / len(tokenizer))) < 0.015
    assert torch.equal(corrupted[~selected], ids[~selected])


def test_collate_is_deterministic_given_the_generator():
    for kind in ("masked", "causal"):
        _, tokenizer = tiny(kind)
        ctx = context(kind, tokenizer)
        objective = OBJECTIVES.get("none")()
        examples = objective.build_examples(ctx)
        first = objective.collate(examples, ctx, generator(7))
        second = objective.collate(examples, ctx, generator(7))
        for key in ("input_ids", "attention_mask", "labels"):
            assert torch.equal(first[key], second[key])
        if kind == "masked":
            other = objective.collate(examples, ctx, generator(8))
            assert not torch.equal(first["labels"], other["labels"])


def test_causal_labels_ignore_padding():
    ids = torch.tensor([[2, 5, 6, 0], [2, 7, 0, 0]])
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]])
    assert lm.causal_labels(ids, mask).tolist() == [[2, 5, 6, -100], [2, 7, -100, -100]]


@pytest.mark.parametrize("kind", ["masked", "causal"])
def test_lm_loss_equals_the_models_own_loss(kind):
    model, tokenizer = tiny(kind)
    model.eval()  # no dropout: the three computations must see the same network
    ctx = context(kind, tokenizer, mlm_probability=0.5)
    batch = lm.collate_text_examples([{"type": "text", "text": t} for t in DEBIAS_TEXTS], ctx, generator(3))
    ours = lm.lm_loss(model, batch)
    reference = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"]).loss
    assert torch.allclose(ours, reference, atol=1e-5)
    # and by hand: mean -log p over the scored (shifted for causal) positions
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    labels = batch["labels"]
    if kind == "causal":
        logits, labels = logits[:, :-1], labels[:, 1:]
    log_probs = torch.log_softmax(logits, -1)
    terms = [
        -log_probs[b, t, labels[b, t]]
        for b in range(labels.shape[0])
        for t in range(labels.shape[1])
        if labels[b, t] != -100
    ]
    assert torch.allclose(ours, torch.stack(terms).mean(), atol=1e-5)


def test_masked_loss_on_masked_positions_only_has_the_full_heads_gradients():
    """The MLM head on the masked positions alone (training's fast path) gives the loss and every parameter's
    gradient of the head on all positions, to float rounding; an architecture without a known position-wise
    head takes the full-logits route."""
    model, tokenizer = tiny("masked")
    model.eval()
    ctx = context("masked", tokenizer, mlm_probability=0.3)
    batch = lm.collate_text_examples([{"type": "text", "text": t} for t in DEBIAS_TEXTS], ctx, generator(5))
    fast = lm.lm_loss(model, batch)
    fast.backward()
    fast_grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    full = lm.lm_loss_from_logits(lm.model_logits(model, batch), batch["labels"], "masked")
    full.backward()
    assert torch.allclose(fast, full, atol=1e-6)
    for name, p in model.named_parameters():
        assert torch.allclose(fast_grads[name], p.grad, atol=1e-6), name

    class Unlisted(torch.nn.Module):  # its logits are all the loss can use
        def forward(self, input_ids, attention_mask):
            return model(input_ids=input_ids, attention_mask=attention_mask)

    assert torch.allclose(lm.lm_loss(Unlisted(), batch), full, atol=1e-6)


def test_lm_loss_is_zero_not_nan_when_nothing_is_scored():
    model, tokenizer = tiny("masked")
    ctx = context("masked", tokenizer)
    batch = lm.collate_text_examples([{"type": "text", "text": "he"}], ctx, generator(0))
    batch["labels"] = torch.full_like(batch["labels"], lm.IGNORE_INDEX)
    loss = lm.lm_loss(model, batch)
    assert loss.item() == 0.0
    loss.backward()  # still has a graph


def test_sequence_log_probs_sum_token_log_probs():
    model, tokenizer = tiny("causal")
    model.eval()
    ctx = context("causal", tokenizer)
    batch = lm.text_batch(["he is a nurse", "she is"], ctx, generator(0))
    total = lm.sequence_log_probs(model, batch, "causal")
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    log_probs = torch.log_softmax(logits, -1)
    ids = batch["input_ids"]
    by_hand = [
        sum(log_probs[0, t - 1, ids[0, t]] for t in range(1, 5)),
        sum(log_probs[1, t - 1, ids[1, t]] for t in range(1, 3)),
    ]
    assert torch.allclose(total, torch.stack(by_hand), atol=1e-5)


@settings(max_examples=60, deadline=None)
@given(
    shape=st.tuples(st.integers(1, 6), st.integers(1, 12)),
    seed=st.integers(0, 2**31 - 1),
    probability=st.floats(0.01, 0.99),
)
def test_masking_only_selects_maskable_positions_property(shape, seed, probability):
    tokenizer = _BERT_TOKENIZER
    ids = torch.randint(5, len(tokenizer), shape, generator=generator(seed))
    maskable = torch.rand(shape, generator=generator(seed + 1)) < 0.5
    corrupted, labels = lm.mask_tokens(ids, maskable, tokenizer, generator(seed), probability)
    selected = labels != lm.IGNORE_INDEX
    assert not bool((selected & ~maskable).any())
    assert torch.equal(corrupted[~selected], ids[~selected])
    again = lm.mask_tokens(ids, maskable, tokenizer, generator(seed), probability)
    assert torch.equal(again[0], corrupted) and torch.equal(again[1], labels)


def test_the_helper_tokenizers_know_every_test_word():
    for tokenizer in (bert_tokenizer(), llama_tokenizer()):
        ids = tokenizer(" ".join(DEBIAS_TEXTS + GENERAL_TEXTS + [s for p in STEREO_PAIRS for s in p]))["input_ids"]
        assert tokenizer.unk_token_id not in ids
