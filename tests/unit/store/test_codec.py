"""The store's encoding (fairforget.store.codec): strict canonical JSON, keys, and the checks an entry's bytes must
pass to be read back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fairforget.errors import StoreError
from fairforget.hashing import sha256_bytes
from fairforget.store.codec import (
    STORE_FORMAT,
    canonical_bytes,
    check_key,
    decode_entry,
    encode_entry,
    key_from_parts,
    payload_sha256,
)


def test_canonical_bytes_are_sorted_ascii_and_strict() -> None:
    value = {"b": np.float64(0.5), "a": [np.int64(2), Path("r/x")], "é": np.arange(2)}
    assert canonical_bytes(value) == b'{"a":[2,"r/x"],"b":0.5,"\\u00e9":[0,1]}'
    assert payload_sha256(value) == sha256_bytes(canonical_bytes(value))
    with pytest.raises(StoreError, match="cannot be stored as JSON: object is not JSON-serialisable"):
        canonical_bytes({"x": object()})  # never a repr in a key


def test_a_key_is_64_lowercase_hex_characters() -> None:
    key = key_from_parts({"rule": "evaluate", "checkpoint": "abc"})
    assert check_key(key) == key and key == sha256_bytes(b'{"checkpoint":"abc","rule":"evaluate"}')
    for bad in (key.upper(), key[:-1], 42):
        with pytest.raises(StoreError, match="is not a store key"):
            check_key(bad)  # type: ignore[arg-type]


def entry_bytes(**changes) -> tuple[bytes, str]:
    parts = {"rule": "evaluate"}
    key = key_from_parts(parts)
    result = {"accuracy": 0.75}
    entry = {"format": STORE_FORMAT, "key": key, "key_parts": parts, "meta": {}, "result": result,
             "result_sha256": payload_sha256(result)}  # fmt: skip
    entry.update(changes)
    return encode_entry(entry), key


def test_an_encoded_entry_decodes_to_itself() -> None:
    raw, key = entry_bytes()
    entry, problem = decode_entry(raw, key)
    assert problem is None and entry is not None and entry["result"] == {"accuracy": 0.75}
    assert raw.endswith(b"\n") and entry["entry_sha256"] == sha256_bytes(canonical_bytes(
        {k: v for k, v in entry.items() if k != "entry_sha256"}))  # fmt: skip


def test_each_damage_is_refused_with_its_reason() -> None:
    raw, key = entry_bytes()
    assert decode_entry(raw, "0" * 64)[1] == f"holds key {key!r}, not the key its file is named after"
    assert decode_entry(raw.replace(b"0.75", b"0.76"), key)[1] == "entry_sha256 does not match the entry's content"
    assert decode_entry(raw.replace(b",", b", ", 1), key)[1] == "bytes are not the canonical encoding of the entry"
    assert decode_entry(b"{", key)[1].startswith("unparsable")
    assert decode_entry(entry_bytes(format=99)[0], key)[1].startswith("unknown store format 99")
    assert decode_entry(entry_bytes(result_sha256="0" * 64)[0], key)[1] == (
        "result_sha256 does not match the stored result"
    )
    assert decode_entry(entry_bytes(key_parts={"rule": "other"})[0], key)[1] == "key_parts do not hash to the key"
