"""Source `toy` (fairforget.base_models.sources.toy): a tiny model trained on the given texts with the seed of
`models.<name>.pretrain`, its manifest recording the source; another seed gives another model."""

from __future__ import annotations

import copy
from pathlib import Path

from engine_helpers import tiny_model_cfg, write_toy_data
from fairforget.base_models.source import MODEL_SOURCES
from fairforget.models.modeldir import verify_model_dir


def test_the_pretrain_seed_makes_the_model(tmp_path: Path) -> None:
    data = write_toy_data(tmp_path, n_general=16, n_planted=16)
    texts = [data / "general" / "pretrain.jsonl", data / "stereotype" / "planted.jsonl"]
    cfg = tiny_model_cfg("causal")
    source = MODEL_SOURCES.get("toy")()
    manifest = source.build("toy-llama", cfg, texts, tmp_path / "a")
    assert verify_model_dir(tmp_path / "a")["content_hash"] == manifest["content_hash"]
    assert manifest["kind"] == "causal" and manifest["source"]["type"] == "toy"
    assert source.build("toy-llama", cfg, texts, tmp_path / "b")["content_hash"] == manifest["content_hash"]
    other = copy.deepcopy(cfg)
    other["pretrain"]["seed"] = 1
    assert source.build("toy-llama", other, texts, tmp_path / "c")["content_hash"] != manifest["content_hash"]
