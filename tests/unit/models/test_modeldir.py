"""Model directories (fairforget.models.modeldir): the file hashes and content hash a manifest records, the
typed, lenient reading of a manifest, and how far a checkpoint's weights moved from its base model's. Tampering,
partial directories and pickles: tests/faults/test_modeldir.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from fairforget.errors import DataError, ModelError
from fairforget.hashing import canonical_json_hash, sha256_bytes
from fairforget.models.modeldir import MANIFEST, Manifest, content_hash, hash_files, weight_change


def test_every_file_but_the_manifest_and_hidden_ones_is_hashed_by_relative_path(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "model.safetensors").write_bytes(b"w")
    (tmp_path / "sub" / "vocab.txt").write_bytes(b"v")
    (tmp_path / MANIFEST).write_text("{}")
    (tmp_path / ".tmp-write").write_bytes(b"partial")
    files = hash_files(tmp_path)
    assert files == {"model.safetensors": sha256_bytes(b"w"), "sub/vocab.txt": sha256_bytes(b"v")}


def test_the_content_hash_is_of_the_sorted_file_list() -> None:
    files = {"b": "2" * 64, "a": "1" * 64}
    assert content_hash(files) == canonical_json_hash([["a", "1" * 64], ["b", "2" * 64]])
    assert content_hash(files) == content_hash(dict(reversed(list(files.items()))))
    assert content_hash(files) != content_hash({"a": "1" * 64, "b": "3" * 64})


def test_a_manifest_is_read_leniently_and_typed(tmp_path: Path) -> None:
    path = tmp_path / MANIFEST
    path.write_text(json.dumps({"kind": "masked", "content_hash": "c", "fusion": "not a mapping", "extra": 1}))
    manifest = Manifest.read(path)
    assert (manifest.kind, manifest.content_hash, manifest.files) == ("masked", "c", {})
    assert manifest.fusion is None and manifest.parent_hash is None and manifest.record["extra"] == 1
    path.write_text("[1]")
    with pytest.raises(DataError, match="manifest.json: expected a JSON object"):
        Manifest.read(path)


def _weights(folder: Path, tensors: dict[str, list], name: str = "model.safetensors") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: torch.tensor(v, dtype=torch.float32) for k, v in tensors.items()}, str(folder / name))
    return folder


def test_weight_change_hand_computed(tmp_path: Path) -> None:
    base = _weights(tmp_path / "base", {"a": [1.0, 2.0, 2.0], "b": [[0.0]]})
    # one element of four moved, by 2: ||w - w0|| = 2, ||w0|| = sqrt(1 + 4 + 4) = 3
    tuned = _weights(tmp_path / "tuned", {"a": [1.0, 2.0, 4.0], "b": [[0.0]]})
    assert weight_change(base, tuned) == {"max_abs": 2.0, "changed": 1, "total": 4, "relative_l2": pytest.approx(2 / 3)}
    # the shards of a large model count as one set of tensors; a decrease counts by its size
    sharded = _weights(tmp_path / "sharded", {"a": [1.0, 2.0, 2.0]}, "model-00001-of-00002.safetensors")
    _weights(sharded, {"b": [[-0.5]]}, "model-00002-of-00002.safetensors")
    change = weight_change(base, sharded)
    assert (change["max_abs"], change["changed"], change["total"]) == (0.5, 1, 4)
    assert change["relative_l2"] == pytest.approx(0.5 / 3)
    assert weight_change(base, base) == {"max_abs": 0.0, "changed": 0, "total": 4, "relative_l2": 0.0}


def test_weight_change_refuses_another_architecture(tmp_path: Path) -> None:
    base = _weights(tmp_path / "base", {"a": [1.0, 2.0], "b": [0.0]})
    with pytest.raises(ModelError, match="tensors differ"):
        weight_change(base, _weights(tmp_path / "fewer", {"a": [1.0, 2.0]}))
    with pytest.raises(ModelError, match="tensor 'a' has shape"):
        weight_change(base, _weights(tmp_path / "shape", {"a": [1.0, 2.0, 3.0], "b": [0.0]}))
    with pytest.raises(ModelError, match="no safetensors weights"):
        weight_change(base, tmp_path)
