"""GGUF conversion (fairforget.models.gguf): the refusals that come before any file is read, and the reload check
that stops a conversion whose saved directory does not load back to the converted weights bit for bit. The
conversion of a real GGUF file: tests/unit/base_models/sources/test_gguf.py and tests/real/."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch

from fairforget.errors import ModelError
from fairforget.models.gguf import check_reload, convert_gguf
from fairforget.models.modeldir import save_model_dir
from fairforget.models.toy import build_toy_model, train_tokenizer

ARCH = {
    "hidden_size": 16,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "intermediate_size": 32,
    "max_position_embeddings": 32,
}


def test_the_kind_the_file_and_its_hash_are_checked_first(tmp_path: Path) -> None:
    gguf = tmp_path / "m.gguf"
    with pytest.raises(ModelError, match="converted as causal LMs, not 'masked'"):
        convert_gguf(gguf, "masked", tmp_path / "out", {})
    with pytest.raises(ModelError, match="m.gguf: GGUF file not found"):
        convert_gguf(gguf, "causal", tmp_path / "out", {})
    gguf.write_bytes(b"GGUF not really")
    digest = hashlib.sha256(b"GGUF not really").hexdigest()
    with pytest.raises(ModelError, match=f"sha256 is {digest}, the config expects {'0' * 64}"):
        convert_gguf(gguf, "causal", tmp_path / "out", {}, expected_sha256="0" * 64)


def test_the_reload_check_passes_an_exact_copy_and_stops_a_changed_tensor(tmp_path: Path) -> None:
    tokenizer = train_tokenizer(["the nurse said she would help", "the engineer fixed it"] * 3, "causal", 60)
    model = build_toy_model("causal", ARCH, tokenizer, seed=0)
    save_model_dir(model, tokenizer, tmp_path / "m", "causal")
    check_reload(model, tmp_path / "m")
    name = next(iter(model.state_dict()))
    with torch.no_grad():
        model.state_dict()[name].add_(1.0)
    with pytest.raises(ModelError, match=rf"does not reload to the converted weights \(\['{name}'\]\)"):
        check_reload(model, tmp_path / "m")
