"""`dropout`: rates raised while training, original rates restored by finalize_model."""

from __future__ import annotations

import torch

from fairforget.training.plugins import OBJECTIVES
from objectives_helpers import context, tiny

torch.set_num_threads(1)


def _bert_rates(model):
    rates = {}
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Dropout):
            rates[name] = module.p
    return rates


def test_bert_hidden_and_attention_dropout_raised_then_restored():
    model, tokenizer = tiny("masked")
    ctx = context("masked", tokenizer)
    before = _bert_rates(model)
    assert set(before.values()) == {0.1}  # BertConfig defaults
    objective = OBJECTIVES.get("dropout")()
    objective.prepare_model(model, ctx)
    assert model.config.hidden_dropout_prob == 0.20
    assert model.config.attention_probs_dropout_prob == 0.15
    during = _bert_rates(model)
    attention = [n for n in during if n.endswith("attention.self.dropout")]
    assert attention and all(during[n] == 0.15 for n in attention)
    hidden = [n for n in during if n not in attention]
    assert "bert.embeddings.dropout" in hidden and all(during[n] == 0.20 for n in hidden)
    objective.finalize_model(model, ctx)
    assert model.config.hidden_dropout_prob == 0.1 and model.config.attention_probs_dropout_prob == 0.1
    assert _bert_rates(model) == before


def test_params_override_the_rates():
    model, tokenizer = tiny("masked")
    objective = OBJECTIVES.get("dropout")(hidden=0.3, attention=0.25)
    objective.prepare_model(model, context("masked", tokenizer))
    assert model.config.hidden_dropout_prob == 0.3 and model.config.attention_probs_dropout_prob == 0.25


def test_llama_attention_dropout_raised_takes_effect_and_is_restored():
    model, tokenizer = tiny("causal")
    ctx = context("causal", tokenizer)
    ids = tokenizer(["the man said that the nurse was tired"], return_tensors="pt")["input_ids"]
    model.train()
    torch.manual_seed(0)
    assert torch.equal(model(ids).logits, model(ids).logits)  # no dropout at all in a default Llama
    objective = OBJECTIVES.get("dropout")(attention=0.5)
    objective.prepare_model(model, ctx)
    assert model.config.attention_dropout == 0.5
    assert all(
        m.attention_dropout == 0.5
        for m in model.modules()
        if hasattr(m, "attention_dropout") and isinstance(m.attention_dropout, float)
    )
    assert not torch.equal(model(ids).logits, model(ids).logits)  # now stochastic in train mode
    objective.finalize_model(model, ctx)
    assert model.config.attention_dropout == 0.0
    assert torch.equal(model(ids).logits, model(ids).logits)
    assert model.config.to_dict()["attention_dropout"] == 0.0  # what save_pretrained would write
