"""The PLL encoder (fairforget.scoring.masked_encoder): equal to the full forward's logits; only stock BERT
masked LMs take it."""

from __future__ import annotations

import pytest
import torch
from transformers import (
    BertConfig,
    BertForMaskedLM,
    LlamaConfig,
    LlamaForCausalLM,
    RobertaConfig,
    RobertaForMaskedLM,
)

from fairforget.scoring.masked_encoder import pll_position_logits, supports_pll_encoder
from scoring_helpers import pll_batch, tiny_bert


@pytest.mark.parametrize("layers", [1, 2, 3])
@pytest.mark.parametrize("seed", [0, 1])
def test_pll_encoder_equals_full_forward_logits(layers, seed):
    model = tiny_bert(layers, seed)
    ids, attention, positions = pll_batch(seed)
    assert not bool(attention.all())  # the padded (key-masked) case
    with torch.inference_mode():
        full = model(input_ids=ids, attention_mask=attention).logits[torch.arange(len(ids)), positions]
        fast = pll_position_logits(model, ids, attention, positions)
        unpadded = ids[:3, :3], attention[:3, :3], torch.tensor([0, 2, 1])  # no padding: the unmasked kernel
        full_unpadded = model(input_ids=unpadded[0], attention_mask=unpadded[1]).logits[torch.arange(3), unpadded[2]]
        fast_unpadded = pll_position_logits(model, *unpadded)
    assert fast.shape == full.shape
    torch.testing.assert_close(fast, full, atol=1e-6, rtol=0)
    torch.testing.assert_close(fast_unpadded, full_unpadded, atol=1e-6, rtol=0)


def test_only_stock_bert_masked_lm_takes_the_pll_encoder():
    model = tiny_bert(2)
    assert supports_pll_encoder(model)

    class Subclass(BertForMaskedLM):  # may override forward: not trusted
        pass

    assert not supports_pll_encoder(Subclass(model.config))
    decoder_config = BertConfig(**{**model.config.to_dict(), "is_decoder": True})
    assert not supports_pll_encoder(BertForMaskedLM(decoder_config))
    roberta = RobertaForMaskedLM(
        RobertaConfig(vocab_size=97, hidden_size=32, num_hidden_layers=1, num_attention_heads=4, intermediate_size=48)
    )
    assert not supports_pll_encoder(roberta)
    llama = LlamaForCausalLM(
        LlamaConfig(vocab_size=97, hidden_size=32, num_hidden_layers=1, num_attention_heads=4, intermediate_size=48)
    )
    assert not supports_pll_encoder(llama)
