"""Toy tokenizers and models (fairforget.models.toy): tokenizers round trip and reload offline, identical when
trained again; a model's init depends on its seed only; an unknown architecture field names itself."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer

from engine_helpers import TINY_ARCH
from fairforget.errors import ConfigError
from fairforget.models.toy import build_toy_model, train_tokenizer


@pytest.mark.parametrize("kind", ["masked", "causal"])
def test_tokenizer_round_trip_and_offline_reload(tmp_path: Path, kind: str) -> None:
    texts = ["The nurse said that she was tired .", "The doctor said that he was busy today ."] * 10
    tokenizer = train_tokenizer(texts, kind, 120, model_max_length=32)
    tokenizer.save_pretrained(tmp_path)
    reloaded = AutoTokenizer.from_pretrained(tmp_path, local_files_only=True)
    sentence = "The doctor said that she was busy"
    assert reloaded(sentence).input_ids == tokenizer(sentence).input_ids
    decoded = reloaded.decode(reloaded(sentence).input_ids, skip_special_tokens=True)
    if kind == "masked":
        assert decoded == sentence.lower()
        assert reloaded.mask_token == "[MASK]" and reloaded.pad_token == "[PAD]"
        assert reloaded(sentence).input_ids[0] == reloaded.cls_token_id
    else:
        assert decoded == sentence  # byte-level BPE is lossless
        assert reloaded.pad_token == "<pad>" and reloaded(sentence).input_ids[0] == reloaded.bos_token_id
    # trained in another order of calls, the same texts give the same tokenizer file
    again = train_tokenizer(texts, kind, 120, model_max_length=32)
    assert again.backend_tokenizer.to_str() == tokenizer.backend_tokenizer.to_str()


def test_toy_model_init_depends_on_seed_only() -> None:
    tokenizer = train_tokenizer(["a b c d e f g"] * 3, "masked", 60)
    first = build_toy_model("masked", TINY_ARCH, tokenizer, seed=0)
    second = build_toy_model("masked", TINY_ARCH, tokenizer, seed=0)
    other = build_toy_model("masked", TINY_ARCH, tokenizer, seed=1)
    a, b, c = (torch.cat([p.flatten() for p in m.parameters()]) for m in (first, second, other))
    assert torch.equal(a, b) and not torch.equal(a, c)
    with pytest.raises(ConfigError, match="unknown architecture field"):
        build_toy_model("masked", {**TINY_ARCH, "hiden_size": 8}, tokenizer, seed=0)
