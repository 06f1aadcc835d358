"""The result store's bytes: keys, the canonical JSON encoding, and an entry's encoding and verified decoding.

An entry holds the result, the key parts, metadata (created, host, SLURM job id, fairforget version, CPU
capability, torch threads), `result_sha256` (sha256 of the canonical result JSON) and `entry_sha256` (sha256 of
the canonical entry without that field). A read accepts an entry only if both hashes match, the key matches its
file name and parts, and the file bytes are exactly the canonical encoding, so every byte flip is detected.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fairforget.errors import StoreError
from fairforget.hashing import sha256_bytes
from fairforget.store import artifacts as store_artifacts

STORE_FORMAT = 1


KEY_PATTERN = re.compile(r"^[0-9a-f]{64}$")


ENTRY_FIELDS = ("format", "key", "key_parts", "meta", "result", "result_sha256", "entry_sha256")


class StoreKey(str):
    """A store key (64 lowercase hex characters) that also remembers the parts it was hashed from.

    It is a `str`, so it can be written to JSON and compared like the plain hex key.
    """

    parts: dict[str, Any] | None

    def __new__(cls, digest: str, parts: dict[str, Any] | None = None) -> StoreKey:
        key = super().__new__(cls, digest)
        key.parts = parts
        return key


def canonical_bytes(obj: Any) -> bytes:
    """Strict canonical JSON (sorted keys, no whitespace, ASCII): equal objects give equal bytes.

    Unlike `hashing.canonical_json`, nothing is silently turned into a string: a value JSON cannot hold raises
    StoreError, so a key never depends on an object's `repr`. `Path` values are written as their text, numpy
    scalars and arrays as the Python numbers and lists they hold.
    """

    def default(value: Any) -> Any:
        if isinstance(value, Path):
            return value.as_posix()
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, np.ndarray):
            return value.tolist()
        raise TypeError(f"{type(value).__name__} is not JSON-serialisable")

    try:
        text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=default)
    except (TypeError, ValueError) as err:
        raise StoreError(f"result store: value cannot be stored as JSON: {err}") from err
    return text.encode("ascii")


def payload_sha256(obj: Any) -> str:
    """sha256 of the canonical JSON of a result (the `result_sha256` of an entry)."""
    return sha256_bytes(canonical_bytes(obj))


def cache_record(key: str, hit: bool) -> dict[str, Any]:
    """The `{"hit": ..., "key": ...}` object a result JSON stores under `"cache"` (what gc looks for)."""
    return {"hit": bool(hit), "key": str(key)}


def check_key(key: str) -> str:
    if not isinstance(key, str) or not KEY_PATTERN.match(key):
        raise StoreError(f"result store: {key!r} is not a store key (64 lowercase hex characters)")
    return key


def key_from_parts(parts: Mapping[str, Any]) -> str:
    return sha256_bytes(canonical_bytes(dict(parts)))


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def creation_meta() -> dict[str, Any]:
    from fairforget import __version__

    return {
        "created": now_iso(),
        "created_unix": time.time(),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
        "fairforget_version": __version__,
        "cpu_capability": _cpu_capability(),
        "torch_threads": _torch_threads(),
    }


def _cpu_capability() -> str | None:
    """torch's CPU kernel path where the entry was computed (results computed on another path agree within
    floating-point tolerance, not bit for bit); None when the process never imported torch (importing it
    just for this would cost seconds)."""
    torch = sys.modules.get("torch")
    return torch.backends.cpu.get_cpu_capability() if torch is not None else None


def _torch_threads() -> int | None:
    """torch's intra-op threads where the entry was computed: on CPU another count sums in another order, so
    results agree within floating-point tolerance, not bit for bit (as across kernel paths); None without torch."""
    torch = sys.modules.get("torch")
    return int(torch.get_num_threads()) if torch is not None else None


def encode_entry(entry_without_hash: dict[str, Any]) -> bytes:
    entry = dict(entry_without_hash)
    entry["entry_sha256"] = sha256_bytes(canonical_bytes(entry_without_hash))
    return canonical_bytes(entry) + b"\n"


def decode_entry(raw: bytes, expected_key: str) -> tuple[dict[str, Any] | None, str | None]:
    """Parse and verify an entry's bytes; return (entry, None) or (None, why it is refused)."""
    try:
        entry = json.loads(raw.decode("ascii"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        return None, f"unparsable ({err})"
    if not isinstance(entry, dict):
        return None, "not a JSON object"
    missing = [name for name in ENTRY_FIELDS if name not in entry]
    if missing:
        return None, f"missing field(s) {', '.join(missing)}"
    if entry["format"] != STORE_FORMAT:
        return None, f"unknown store format {entry['format']!r} (this fairforget reads {STORE_FORMAT})"
    if entry["key"] != expected_key:
        return None, f"holds key {entry['key']!r}, not the key its file is named after"
    without_hash = {name: value for name, value in entry.items() if name != "entry_sha256"}
    if sha256_bytes(canonical_bytes(without_hash)) != entry["entry_sha256"]:
        return None, "entry_sha256 does not match the entry's content"
    if payload_sha256(entry["result"]) != entry["result_sha256"]:
        return None, "result_sha256 does not match the stored result"
    if entry["key_parts"] is not None and key_from_parts(entry["key_parts"]) != expected_key:
        return None, "key_parts do not hash to the key"
    if canonical_bytes(entry) + b"\n" != raw:
        # Same content, different bytes: something edited the file; refuse rather than guess.
        return None, "bytes are not the canonical encoding of the entry"
    if not isinstance(entry["result"], dict):
        return None, "result is not a JSON object"
    files = entry.get("artifacts")
    if files is not None and (
        not isinstance(files, dict)
        or not isinstance(files.get("files"), dict)
        or files.get("dir") != store_artifacts.folder_name(expected_key, files["files"])
    ):
        return None, "artifacts field is malformed or names the wrong folder"
    return entry, None


@dataclass(frozen=True)
class EntryInfo:
    """What `verify`, `list` and `gc` know about one entry file."""

    key: str
    path: Path
    size_bytes: int
    problem: str | None = None
    kind: str | None = None
    checkpoint_hash: str | None = None
    created: str | None = None
    created_unix: float | None = None
    artifacts_dir: Path | None = None  # the entry's files folder, if it has one
    artifacts_bytes: int = 0

    @property
    def valid(self) -> bool:
        return self.problem is None
