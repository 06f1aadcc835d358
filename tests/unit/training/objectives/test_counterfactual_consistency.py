"""`counterfactual_consistency`: LM loss + weight * symmetric KL at aligned positions, recomputed by hand."""

from __future__ import annotations

import torch

from fairforget.training.plugins import OBJECTIVES
from objectives_helpers import context, generator, tiny

torch.set_num_threads(1)
EXAMPLES = [
    {
        "type": "counterfactual",
        "text": "the man said that he was tired",
        "swapped": "the woman said that she was tired",
    },
    {"type": "text", "text": "the city is very good"},
]


def _kl(p_logits, q_logits):
    p = torch.softmax(p_logits, -1)
    q = torch.softmax(q_logits, -1)
    return (p * (p.log() - q.log())).sum()


def _ids(tokenizer, text):
    return tokenizer([text], return_tensors="pt")["input_ids"]


def test_build_examples_pairs_gendered_texts_with_their_swap():
    _, tokenizer = tiny("causal")
    examples = OBJECTIVES.get("counterfactual_consistency")().build_examples(context("causal", tokenizer))
    assert {"type": "counterfactual", "text": "he is a nurse", "swapped": "she is a nurse"} in examples
    assert {"type": "text", "text": "the house is very good"} in examples


def test_causal_loss_matches_hand_computation():
    model, tokenizer = tiny("causal", initializer_range=0.3)  # larger weights: context changes predictions
    model.eval()
    ctx = context("causal", tokenizer)
    objective = OBJECTIVES.get("counterfactual_consistency")(weight=2.5)
    batch = objective.collate(EXAMPLES, ctx, generator(0))
    loss = objective.loss(model, batch, ctx)

    original = _ids(tokenizer, EXAMPLES[0]["text"])
    twin = _ids(tokenizer, EXAMPLES[0]["swapped"])
    other = _ids(tokenizer, EXAMPLES[1]["text"])
    lo, lt, lx = model(original).logits[0], model(twin).logits[0], model(other).logits[0]
    # <s> the man said that he was tired: targets after the first swapped word ("man", index 2) are
    # "said"(3) "that"(4) "was"(6) "tired"(7); "he"/"she"(5) differs, so predictions at 2, 3, 5, 6 compare.
    kls = [_kl(lo[t], lt[t]) + _kl(lt[t], lo[t]) for t in (2, 3, 5, 6)]
    nll = [-torch.log_softmax(lo[t], -1)[original[0, t + 1]] for t in range(original.shape[1] - 1)]
    nll += [-torch.log_softmax(lx[t], -1)[other[0, t + 1]] for t in range(other.shape[1] - 1)]
    expected = torch.stack(nll).mean() + 2.5 * torch.stack(kls).mean()
    assert torch.stack(kls).mean() > 1e-2  # the consistency term is not negligible, so the check has teeth
    assert torch.allclose(loss, expected, atol=1e-5)
    assert batch["positions_original"].tolist() == [2, 3, 5, 6]


def test_masked_loss_matches_hand_computation_and_mirrors_the_corruption():
    model, tokenizer = tiny("masked", initializer_range=0.3)  # at 0.02 the KL is ~1e-10
    model.eval()
    ctx = context("masked", tokenizer, mlm_probability=0.6)
    objective = OBJECTIVES.get("counterfactual_consistency")(weight=0.7)
    batch = objective.collate(EXAMPLES, ctx, generator(4))
    loss = objective.loss(model, batch, ctx)

    labels = batch["lm"]["labels"]
    corrupted = batch["lm"]["input_ids"]
    twin_input = batch["twin"]["input_ids"]
    original = _ids(tokenizer, EXAMPLES[0]["text"])[0]
    gendered = {2, 5}  # "man", "he" (after [CLS])
    selected = [i for i in range(original.shape[0]) if labels[0, i] != -100]
    assert selected and not gendered & set(selected)
    # same length here (one-token swaps), so positions align one to one outside the gendered words
    for i in range(original.shape[0]):
        if i not in gendered:
            assert twin_input[0, i] == corrupted[0, i]
    lo = model(input_ids=corrupted, attention_mask=batch["lm"]["attention_mask"]).logits
    lt = model(input_ids=twin_input, attention_mask=batch["twin"]["attention_mask"]).logits[0]
    kls = [_kl(lo[0, i], lt[i]) + _kl(lt[i], lo[0, i]) for i in selected]
    scored = labels != -100
    nll = -torch.log_softmax(lo, -1)[scored].gather(-1, labels[scored].unsqueeze(-1)).squeeze(-1)
    expected = nll.mean() + 0.7 * torch.stack(kls).mean()
    assert torch.stack(kls).mean() > 1e-2
    assert torch.allclose(loss, expected, atol=1e-5)


def test_zero_weight_leaves_only_the_lm_loss_and_collate_is_deterministic():
    model, tokenizer = tiny("masked")
    model.eval()
    ctx = context("masked", tokenizer, mlm_probability=0.6)
    objective = OBJECTIVES.get("counterfactual_consistency")(weight=0.0)
    first = objective.collate(EXAMPLES, ctx, generator(4))
    second = objective.collate(EXAMPLES, ctx, generator(4))
    assert torch.equal(first["twin"]["input_ids"], second["twin"]["input_ids"])
    assert torch.equal(first["lm"]["labels"], second["lm"]["labels"])
    lo = model(input_ids=first["lm"]["input_ids"], attention_mask=first["lm"]["attention_mask"]).logits
    lm_only = torch.nn.functional.cross_entropy(lo.reshape(-1, lo.shape[-1]), first["lm"]["labels"].reshape(-1))
    assert torch.allclose(objective.loss(model, first, ctx), lm_only, atol=1e-6)


def test_alignment_never_pairs_pieces_of_swapped_words_with_a_subword_tokenizer():
    from fairforget.models.toy import train_tokenizer
    from fairforget.training import alignment, lm
    from objectives_helpers import DEBIAS_TEXTS, GENERAL_TEXTS

    tokenizer = train_tokenizer(DEBIAS_TEXTS * 3 + GENERAL_TEXTS * 3, "causal", 290, model_max_length=32)
    text, swapped = EXAMPLES[0]["text"], EXAMPLES[0]["swapped"]
    encoded = lm.tokenize(tokenizer, [text], 32)
    twin = lm.tokenize(tokenizer, [swapped], 32)
    ids, twin_ids = encoded["input_ids"][0].tolist(), twin["input_ids"][0].tolist()
    # the raw token matching does pair a piece inside "woman" with one of "man" (or "he" inside "she")
    raw = alignment.aligned_positions(ids, twin_ids)
    pairs = alignment.batch_alignments([text], encoded, [swapped], twin)[0]
    assert set(pairs) < set(raw)
    changed = {(4, 7), (18, 20)}  # "man", "he" in text
    twin_changed = {(4, 9), (20, 23)}  # "woman", "she" in swapped
    for i, j in pairs:
        s, e = encoded["offsets"][0, i].tolist()
        ts, te = twin["offsets"][0, j].tolist()
        assert not any(s < b and e > a for a, b in changed if e > s)
        assert not any(ts < b and te > a for a, b in twin_changed if te > ts)
    # every token of the shared words is still paired ("said", "that", "was", "tired", "the")
    shared_chars = {c for i, _ in pairs for c in range(*encoded["offsets"][0, i].tolist())}
    for word in ("the", "said", "that", "was", "tired"):
        start = text.index(word)
        assert set(range(start, start + len(word))) <= shared_chars, word
