"""The content-addressed result store: evaluation results keyed by what they were computed from.

`store` (`ResultStore`: reads, writes, verification), `codec` (keys and the verified entry encoding), `lock` (who
is computing a key now), `artifacts` (files stored with an entry) and `gc` (removing entries no result
references). The names below are the store's public interface.
"""

from fairforget.store.codec import EntryInfo, StoreKey, cache_record, canonical_bytes, check_key, payload_sha256
from fairforget.store.gc import GcReport, collect_garbage, referenced_keys
from fairforget.store.store import ResultStore, StoreStats

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
    "payload_sha256",
    "referenced_keys",
]
