"""Content hashes (fairforget.hashing): known SHA-256 digests, a file read in chunks, canonical JSON."""

from __future__ import annotations

from pathlib import Path

from fairforget.hashing import canonical_json, canonical_json_hash, sha256_bytes, sha256_file

# FIPS 180-2 test vector: SHA-256("abc")
ABC = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_sha256_of_bytes_is_the_standard_digest() -> None:
    assert sha256_bytes(b"abc") == ABC


def test_a_file_is_hashed_across_chunk_boundaries_like_its_bytes(tmp_path: Path) -> None:
    data = bytes(range(256)) * 8193  # just over 2 MiB: three 1 MiB chunks, the last one short
    path = tmp_path / "blob"
    path.write_bytes(data)
    assert sha256_file(path) == sha256_bytes(data)
    (tmp_path / "abc").write_bytes(b"abc")
    assert sha256_file(tmp_path / "abc") == ABC


def test_canonical_json_sorts_keys_drops_whitespace_and_keeps_unicode() -> None:
    assert canonical_json({"b": [1, 2], "a": {"y": "é", "x": None}}) == '{"a":{"x":null,"y":"é"},"b":[1,2]}'
    assert canonical_json({"p": Path("r/x")}) == '{"p":"r/x"}'  # non-JSON values by str()


def test_equal_objects_hash_equally_whatever_the_key_order() -> None:
    first = canonical_json_hash({"a": 1, "b": {"c": 2, "d": 3}})
    assert first == canonical_json_hash({"b": {"d": 3, "c": 2}, "a": 1})
    assert first == sha256_bytes(b'{"a":1,"b":{"c":2,"d":3}}')
    assert first != canonical_json_hash({"a": 1, "b": {"c": 2, "d": 4}})
