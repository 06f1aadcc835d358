"""Hub models without the hub (fairforget.models.hub): the cache folder from the environment, a snapshot found by
reading the cache layout, offline mode restored afterwards, the model kind from config.json. (Resolution of a
cached model: tests/unit/training/test_pretrain.py.)"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from fairforget.models.hub import architecture_kind, cached_snapshot, default_cache_dir, offline


def test_the_cache_dir_follows_huggingface_hubs_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HF_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", "/x")
    assert default_cache_dir() == Path("/x/huggingface/hub")
    monkeypatch.setenv("HF_HOME", "/h")
    assert default_cache_dir() == Path("/h/hub")
    monkeypatch.setenv("HF_HUB_CACHE", "/c")
    assert default_cache_dir() == Path("/c")


def test_a_snapshot_by_ref_by_commit_or_the_only_one(tmp_path: Path) -> None:
    repo = tmp_path / "models--org--name"
    for commit in ("aaa", "bbb"):
        (repo / "snapshots" / commit).mkdir(parents=True)
    assert cached_snapshot("org/name", tmp_path) is None  # two snapshots, no ref: ambiguous
    assert cached_snapshot("org/name", tmp_path, revision="bbb") == repo / "snapshots" / "bbb"
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("aaa\n", encoding="utf-8")
    assert cached_snapshot("org/name", tmp_path) == repo / "snapshots" / "aaa"
    assert cached_snapshot("org/other", tmp_path) is None


def test_offline_sets_and_restores_the_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "0")
    with offline():
        assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["TRANSFORMERS_OFFLINE"] == "1"
    assert "HF_HUB_OFFLINE" not in os.environ and os.environ["TRANSFORMERS_OFFLINE"] == "0"


@pytest.mark.parametrize(
    ("architectures", "kind"),
    [
        (["BertForMaskedLM"], "masked"),
        (["LlamaForCausalLM"], "causal"),
        (["BertModel"], None),
        (["BertForMaskedLM", "GPT2ForCausalLM"], None),
        ([], None),
    ],  # fmt: skip
)
def test_the_kind_from_config_json(tmp_path: Path, architectures: list[str], kind: str | None) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"architectures": architectures}), encoding="utf-8")
    assert architecture_kind(tmp_path) == kind
    assert architecture_kind(tmp_path / "absent") is None
