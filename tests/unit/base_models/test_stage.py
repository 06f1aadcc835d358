"""The base-model stage (fairforget.base_models.stage): a toy base built from the study's text has its sidecar, is
verified, and rebuilds to the same content hash (another seed: another hash)."""

from __future__ import annotations

from pathlib import Path

from engine_helpers import (
    tiny_model_cfg,
    toy_base,  # noqa: F401 (a fixture)
)
from fairforget.models.modeldir import read_sidecar, verify_model_dir
from fairforget.training.pretrain import build_toy_base


def test_toy_build_is_deterministic(toy_base: tuple[Path, Path, dict], tmp_path: Path) -> None:
    root, data, manifest = toy_base
    assert read_sidecar(root / "base.sha256") == manifest["content_hash"]
    assert verify_model_dir(root / "base")["content_hash"] == manifest["content_hash"]
    assert manifest["source"]["pretrain"]["steps"] == 10  # 80 texts / batch 8
    paths = [data / "general" / "pretrain.jsonl", data / "stereotype" / "planted.jsonl"]
    again = build_toy_base(paths, "tiny", tiny_model_cfg("masked"), tmp_path / "again", seed=0)
    assert again["content_hash"] == manifest["content_hash"]
    other_seed = build_toy_base(paths, "tiny", tiny_model_cfg("masked"), tmp_path / "seed1", seed=1)
    assert other_seed["content_hash"] != manifest["content_hash"]
