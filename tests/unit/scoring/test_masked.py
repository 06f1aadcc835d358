"""Scoring fast paths: the PLL-specialised BERT pass, head-only causal logits and the log-prob reduction agree
with the models' own full forward passes, and only the architectures they were written for take them."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import (
    BertForMaskedLM,
    LlamaConfig,
    LlamaForCausalLM,
)

import fairforget.scoring.masked as masked_module
from fairforget.models.toy import build_toy_model, train_tokenizer
from fairforget.scoring.causal import causal_position_logits, score_causal
from fairforget.scoring.masked import position_logits_route, score_masked
from fairforget.scoring.masked_encoder import pll_position_logits, supports_pll_encoder
from fairforget.scoring.scores import (
    encode_text,
    encode_texts,
    pad_batch,
)
from scoring_helpers import pll_batch, tiny_bert

torch.set_num_threads(1)

CORPUS = [
    "the nurse said that she would help the patient today",
    "the engineer said that he fixed the broken machine",
    "a doctor walked to the hospital in the morning",
    "the teacher asked the students to read the book",
] * 3
TEXTS = [
    "the nurse said that she would help",
    "the engineer fixed the machine",
    "a doctor walked to the hospital in the cold morning today",
    "she is",
    "the teacher asked the students to read the book in the morning",
]


def test_all_masked_logit_routes_agree():
    """PLL encoder, encoder + head at the masked rows (RoBERTa-style route), full forward: same logits."""
    model = tiny_bert(2, seed=3)

    class Subclass(BertForMaskedLM):
        pass

    full_model = Subclass(model.config).eval()
    full_model.load_state_dict(model.state_dict())
    ids, attention, positions = pll_batch(3, rows=12)
    with torch.inference_mode():
        fast = position_logits_route(model)(ids, attention, positions)
        full = position_logits_route(full_model)(ids, attention, positions)
        hidden = model.bert(input_ids=ids, attention_mask=attention).last_hidden_state
        head_only = model.cls(hidden[torch.arange(len(ids)), positions])
    torch.testing.assert_close(fast, full, atol=1e-6, rtol=0)
    torch.testing.assert_close(head_only, full, atol=1e-6, rtol=0)


def _toy(kind: str, vocab_size: int):
    tokenizer = train_tokenizer(CORPUS, kind, vocab_size=vocab_size)
    arch = {
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "intermediate_size": 64,
        "max_position_embeddings": 64,
    }
    return build_toy_model(kind, arch, tokenizer, seed=4), tokenizer


@pytest.fixture(scope="module")
def toy_masked():
    return _toy("masked", 120)


@pytest.fixture(scope="module")
def toy_causal():
    return _toy("causal", 300)


def test_score_masked_takes_the_fast_path_and_matches_the_generic_paths(toy_masked, monkeypatch):
    model, tokenizer = toy_masked
    assert supports_pll_encoder(model)
    calls = []
    real = masked_module.pll_position_logits

    def counting(*args):
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(masked_module, "pll_position_logits", counting)
    fast = score_masked(model, tokenizer, TEXTS, batch_size=6)
    assert calls  # the toy BertForMaskedLM is scored by the PLL encoder
    n_calls = len(calls)
    monkeypatch.setattr(masked_module, "supports_pll_encoder", lambda m: False)
    head_only = score_masked(model, tokenizer, TEXTS, batch_size=6)  # encoder + head at the masked rows
    assert len(calls) == n_calls
    whole = type("WholeForward", (type(model),), {})(model.config).eval()
    whole.load_state_dict(model.state_dict())
    full = score_masked(whole, tokenizer, TEXTS, batch_size=6)  # unknown type: full forward, then gather
    for a, b, c in zip(fast.logprob, head_only.logprob, full.logprob):
        assert len(a) > 0
        np.testing.assert_allclose(a, c, atol=1e-6, rtol=0)
        np.testing.assert_allclose(b, c, atol=1e-6, rtol=0)
    for a, c in zip(fast.correct, full.correct):
        np.testing.assert_array_equal(a, c)


@pytest.mark.parametrize("positions", [None, [[0, 3], None, [2], [], [1, 5]]])
def test_causal_head_on_scored_positions_equals_full_forward(toy_causal, positions):
    model, tokenizer = toy_causal
    whole = type("WholeForward", (type(model),), {})(model.config).eval()
    whole.load_state_dict(model.state_dict())
    fast = score_causal(model, tokenizer, TEXTS, batch_size=2, positions=positions)
    full = score_causal(whole, tokenizer, TEXTS, batch_size=2, positions=positions)
    for a, b in zip(fast.logprob, full.logprob):
        np.testing.assert_allclose(a, b, atol=1e-6, rtol=0)
    ids, attention = pad_batch([encode_text(tokenizer, "causal", t, 64).input_ids for t in TEXTS[:2]], 0)
    cells = torch.tensor([0, 3, ids.shape[1] + 1])
    with torch.inference_mode():
        expected = whole(input_ids=ids, attention_mask=attention).logits.flatten(0, 1)[cells]
        torch.testing.assert_close(causal_position_logits(model, ids, attention, cells), expected, atol=1e-6, rtol=0)


def test_batch_encoding_equals_one_text_at_a_time(toy_masked, toy_causal):
    for kind, (_, tokenizer) in (("masked", toy_masked), ("causal", toy_causal)):
        texts = TEXTS + [""]
        together = encode_texts(tokenizer, kind, texts, max_length=7)
        for text, enc in zip(texts, together):
            single = tokenizer(text, truncation=True, max_length=7, return_special_tokens_mask=True)
            assert enc.input_ids.tolist() == single["input_ids"]
            assert enc.text_positions.tolist() == [i for i, s in enumerate(single["special_tokens_mask"]) if not s]
    assert encode_texts(toy_masked[1], "masked", [], max_length=7) == []


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (run on the GPU machine)")
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_fast_paths_equal_full_forward_on_cuda(dtype):
    """The scoring fast paths put every tensor on the model's device: on a GPU, in fp32 and bf16 weights, they
    give the logits of the model's own forward pass (bf16: to bf16's resolution)."""
    atol = 1e-4 if dtype == torch.float32 else 5e-2
    bert = tiny_bert(2, seed=5).to("cuda", dtype)
    ids, attention, positions = (t.to("cuda") for t in pll_batch(5))
    torch.manual_seed(0)
    llama = (
        LlamaForCausalLM(
            LlamaConfig(vocab_size=97, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=48)
        )
        .eval()
        .to("cuda", dtype)
    )
    with torch.inference_mode():
        full = bert(input_ids=ids, attention_mask=attention).logits[torch.arange(len(ids), device="cuda"), positions]
        fast = pll_position_logits(bert, ids, attention, positions)
        torch.testing.assert_close(fast.float(), full.float(), atol=atol, rtol=0)
        routed = position_logits_route(bert)(ids, attention, positions)
        torch.testing.assert_close(routed.float(), full.float(), atol=atol, rtol=0)
        cells = torch.arange(0, ids.numel(), 3, device="cuda")
        full_causal = llama(input_ids=ids, attention_mask=attention).logits.flatten(0, 1).index_select(0, cells)
        head_only = causal_position_logits(llama, ids, attention, cells)
        torch.testing.assert_close(head_only.float(), full_causal.float(), atol=atol, rtol=0)
