"""The content-addressed result store: evaluation results keyed by what they were computed from.

`core` (entries, keys, reads, writes, verification), `artifacts` (files stored with an entry) and `gc` (removing
entries no result references). The names below are the store's public interface.
"""

from fairforget.store.core import (
    EntryInfo,
    ResultStore,
    StoreKey,
    StoreStats,
    cache_record,
    canonical_bytes,
    check_key,
    format_size,
    payload_sha256,
)
from fairforget.store.gc import GcReport, collect_garbage, referenced_keys

__all__ = [
    "EntryInfo",
    "GcReport",
    "ResultStore",
    "StoreKey",
    "StoreStats",
    "cache_record",
    "canonical_bytes",
    "check_key",
    "collect_garbage",
    "format_size",
    "payload_sha256",
    "referenced_keys",
]
