"""Model directories (fairforget.models.modeldir): the file hashes and content hash a manifest records, and the
typed, lenient reading of a manifest. Tampering, partial directories and pickles: tests/faults/test_modeldir.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fairforget.errors import DataError
from fairforget.hashing import canonical_json_hash, sha256_bytes
from fairforget.models.modeldir import MANIFEST, Manifest, content_hash, hash_files


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
