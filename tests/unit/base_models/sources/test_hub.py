"""Sources `hub` and `local` (fairforget.base_models.sources.hub): a pretrained model folder becomes a verified
model dir recording where it came from; the config's `kind` is checked against the folder's config.json with
the model's key named. (The hub cache itself: tests/unit/models/test_hub.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from fairforget.base_models.source import MODEL_SOURCES
from fairforget.errors import ModelError
from fairforget.models.modeldir import verify_model_dir
from objectives_helpers import tiny


@pytest.fixture
def pretrained(tmp_path: Path) -> Path:
    model, tokenizer = tiny("masked")
    folder = tmp_path / "pretrained"
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder


def test_a_local_folder_becomes_a_verified_model_dir(pretrained: Path, tmp_path: Path) -> None:
    cfg = {"source": "local", "local_path": str(pretrained), "kind": "masked"}
    manifest = MODEL_SOURCES.get("local")().build("tiny-bert", cfg, [], tmp_path / "base")
    assert verify_model_dir(tmp_path / "base")["content_hash"] == manifest["content_hash"]
    assert manifest["kind"] == "masked"
    assert manifest["source"] == {"type": "hub", "hub_id": "tiny-bert", "local_path": str(pretrained), "commit": None}


def test_a_kind_the_folder_contradicts_names_the_models_key(pretrained: Path, tmp_path: Path) -> None:
    cfg = {"source": "local", "local_path": str(pretrained), "kind": "causal"}
    with pytest.raises(ModelError, match=r"models.tiny-bert.kind is 'causal', but .*config.json declares a masked"):
        MODEL_SOURCES.get("local")().build("tiny-bert", cfg, [], tmp_path / "base")
    assert not (tmp_path / "base").exists()  # refused before anything was written
