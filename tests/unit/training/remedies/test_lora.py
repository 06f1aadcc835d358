"""`lora` (fairforget.training.remedies.lora) trains only adapters, merges into a plain model, seeds its init."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoModelForMaskedLM

from fairforget.errors import ConfigError
from fairforget.training.plugins import OBJECTIVES, REMEDIES
from objectives_helpers import context, generator, tiny


@pytest.mark.parametrize(("kind", "targets"), [("masked", ("query", "value")), ("causal", ("q_proj", "v_proj"))])
def test_lora_trains_only_adapters_and_merges_into_a_plain_model(kind, targets, tmp_path):
    model, tokenizer = tiny(kind)
    ctx = context(kind, tokenizer)
    base_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    remedy = REMEDIES.get("lora")(r=4, alpha=8, dropout=0.0)
    peft_model = remedy.prepare_model(model, ctx)
    adapters = {n: p.detach().clone() for n, p in peft_model.named_parameters() if p.requires_grad}
    assert adapters and all("lora_" in n for n in adapters)
    assert any(t in n for n in adapters for t in targets)
    objective = OBJECTIVES.get("none")()
    batch = objective.collate(objective.build_examples(ctx), ctx, generator(0))
    optimizer = torch.optim.SGD([p for p in peft_model.parameters() if p.requires_grad], lr=1.0)
    for _ in range(2):  # lora_B starts at zero, so lora_A moves only from the second step on
        optimizer.zero_grad()
        objective.loss(peft_model, batch, ctx).backward()
        optimizer.step()
    for name, param in peft_model.named_parameters():
        if name in adapters:
            assert not torch.equal(param, adapters[name]), name
    base_now = peft_model.get_base_model().state_dict()
    for key, value in base_state.items():
        peft_key = next(k for k in base_now if k == key or k.replace(".base_layer", "") == key)
        assert torch.equal(base_now[peft_key], value), key
    peft_model.eval()
    ids = batch["input_ids"]
    before_merge = peft_model(input_ids=ids, attention_mask=batch["attention_mask"]).logits
    merged = remedy.finalize_model(peft_model, ctx)
    assert type(merged).__name__ in ("BertForMaskedLM", "LlamaForCausalLM")
    assert not any("lora" in k for k in merged.state_dict())
    assert torch.allclose(merged(input_ids=ids, attention_mask=batch["attention_mask"]).logits, before_merge, atol=1e-5)
    merged.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").is_file() and not (tmp_path / "adapter_config.json").exists()
    loader = AutoModelForMaskedLM if kind == "masked" else AutoModelForCausalLM
    reloaded = loader.from_pretrained(tmp_path).eval()
    assert torch.allclose(
        reloaded(input_ids=ids, attention_mask=batch["attention_mask"]).logits, before_merge, atol=1e-5
    )
    changed = [k for k, v in base_state.items() if not torch.equal(reloaded.state_dict()[k], v)]
    assert changed and all(any(t in k for t in targets) for k in changed)


def test_lora_init_is_seeded_and_unknown_targets_fail():
    model_a, tokenizer = tiny("masked")
    model_b, _ = tiny("masked")
    ctx = context("masked", tokenizer, seed=3)
    torch.manual_seed(100)
    a = REMEDIES.get("lora")().prepare_model(model_a, ctx)
    after_a = torch.rand(1)
    torch.manual_seed(200)  # a different global RNG state must not change the adapters
    b = REMEDIES.get("lora")().prepare_model(model_b, ctx)
    torch.manual_seed(100)
    assert torch.equal(torch.rand(1), after_a)  # the caller's RNG stream is untouched
    for (na, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        assert torch.equal(pa, pb), na
    with pytest.raises(ConfigError, match="remedies.lora.params.target_modules"):
        REMEDIES.get("lora")(target_modules=["no_such_module"]).prepare_model(tiny("masked")[0], ctx)
