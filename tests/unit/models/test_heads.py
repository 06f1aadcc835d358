"""The MLM head (fairforget.models.heads): found for the listed architectures, and applied at some positions only it
gives the full forward's logits there."""

from __future__ import annotations

import torch
from transformers import BertConfig, BertForMaskedLM, LlamaConfig, LlamaForCausalLM

from fairforget.models.heads import head_logits_at, mlm_head


def tiny_bert() -> BertForMaskedLM:
    torch.manual_seed(0)
    config = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=16)  # fmt: skip
    return BertForMaskedLM(config).eval()


def test_the_head_of_a_listed_architecture_and_none_otherwise() -> None:
    model = tiny_bert()
    assert mlm_head(model) is model.cls
    llama = LlamaForCausalLM(LlamaConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                         intermediate_size=32))  # fmt: skip
    assert mlm_head(llama) is None
    assert head_logits_at(llama, torch.ones(1, 3, dtype=torch.long), torch.ones(1, 3), torch.ones(1, 3) > 0) is None


def test_logits_at_masked_positions_equal_the_full_forward() -> None:
    model = tiny_bert()
    input_ids = torch.tensor([[2, 5, 7, 9, 3], [2, 8, 4, 3, 0]])
    attention = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 1, 0]])
    index = torch.tensor([[False, True, False, True, False], [False, False, True, False, False]])
    with torch.no_grad():
        full = model(input_ids=input_ids, attention_mask=attention).logits
        some = head_logits_at(model, input_ids, attention, index)
        pairs = head_logits_at(model, input_ids, attention, (torch.tensor([0, 1]), torch.tensor([3, 2])))
    assert some is not None and some.shape == (3, 50)
    torch.testing.assert_close(some, full[index], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(pairs, full[[0, 1], [3, 2]], rtol=1e-5, atol=1e-6)
