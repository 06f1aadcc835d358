"""Result store: keys, hits and misses, normalisation, use records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fairforget.errors import StoreError
from fairforget.store import ResultStore, StoreKey, cache_record, payload_sha256

CKPT = "a" * 64
SETTINGS = {"metric": "overall_forgetting", "batch_size": 8, "probe_sha256": "b" * 64}


class Counter:
    """A compute function that counts its calls."""

    def __init__(self, result: dict) -> None:
        self.result = result
        self.calls = 0

    def __call__(self) -> dict:
        self.calls += 1
        return self.result


def test_miss_then_hit_computes_once(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "store")
    key = store.key(CKPT, "forgetting", SETTINGS, seed=0)
    compute = Counter({"overall_forgetting.mean_loss_change": {"value": 0.25, "n": 10}})
    first, hit1 = store.get_or_compute(key, compute)
    second, hit2 = store.get_or_compute(key, compute)
    assert (hit1, hit2) == (False, True)
    assert compute.calls == 1
    assert first == second == compute.result
    assert (store.stats.hits, store.stats.misses) == (1, 1)


def test_new_store_instance_sees_entry(tmp_path: Path) -> None:
    """A rerun (new process, new ResultStore) hits what an earlier run stored."""
    key = ResultStore(tmp_path).key(CKPT, "forgetting", SETTINGS, seed=0)
    ResultStore(tmp_path).get_or_compute(key, Counter({"x": 1}))
    compute = Counter({"x": 2})
    result, hit = ResultStore(tmp_path).get_or_compute(key, compute)
    assert hit and result == {"x": 1} and compute.calls == 0


@pytest.mark.parametrize(
    "changed",
    [
        {"checkpoint_hash": "c" * 64},
        {"kind": "downstream"},
        {"settings": {**SETTINGS, "batch_size": 16}},
        {"settings": {**SETTINGS, "probe_sha256": "d" * 64}},
        {"seed": 1},
        {"seed": None},
    ],
)
def test_key_depends_on_each_part(tmp_path: Path, changed: dict) -> None:
    store = ResultStore(tmp_path)
    parts = {"checkpoint_hash": CKPT, "kind": "forgetting", "settings": SETTINGS, "seed": 0}
    base = store.key(**parts)
    other = store.key(**{**parts, **changed})
    assert base != other
    assert len(base) == len(other) == 64


def test_key_ignores_settings_order_and_is_stable(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    reordered = dict(reversed(list(SETTINGS.items())))
    assert store.key(CKPT, "forgetting", SETTINGS, 0) == store.key(CKPT, "forgetting", reordered, 0)
    assert ResultStore(tmp_path / "elsewhere").key(CKPT, "forgetting", SETTINGS, 0) == store.key(
        CKPT, "forgetting", SETTINGS, 0
    )


def test_key_folds_in_data_file_content_not_path(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "store")
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text('{"id": "1", "text": "x"}\n')
    b.write_text('{"id": "1", "text": "x"}\n')
    key_a = store.key(CKPT, "forgetting", SETTINGS, 0, data_files={"heldout": a})
    key_b = store.key(CKPT, "forgetting", SETTINGS, 0, data_files={"heldout": b})
    assert key_a == key_b  # same content at another path: same key
    assert key_a != store.key(CKPT, "forgetting", SETTINGS, 0)
    b.write_text('{"id": "1", "text": "y"}\n')
    assert store.key(CKPT, "forgetting", SETTINGS, 0, data_files={"heldout": b}) != key_a
    with pytest.raises(StoreError, match="missing.jsonl"):
        store.key(CKPT, "forgetting", SETTINGS, 0, data_files={"heldout": tmp_path / "missing.jsonl"})


@pytest.mark.parametrize(
    "args, message",
    [
        (("", "forgetting", {}, 0), "checkpoint_hash"),
        ((CKPT, "", {}, 0), "kind"),
        ((CKPT, "forgetting", [], 0), "settings"),
        ((CKPT, "forgetting", {}, "0"), "seed"),
        ((CKPT, "forgetting", {"x": object()}, 0), "JSON"),
    ],
)
def test_key_rejects_bad_parts(tmp_path: Path, args: tuple, message: str) -> None:
    with pytest.raises(StoreError, match=message):
        ResultStore(tmp_path).key(*args)


@pytest.mark.parametrize("bad", ["../../etc/passwd", "ab", "A" * 64, "g" * 64])
def test_malformed_keys_are_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(StoreError, match="not a store key"):
        ResultStore(tmp_path).get_or_compute(bad, lambda: {"x": 1})


def test_miss_returns_what_a_hit_returns(tmp_path: Path) -> None:
    """Tuples and NaN survive a JSON round trip identically on a miss and a hit."""
    store = ResultStore(tmp_path)
    key = store.key(CKPT, "forgetting", SETTINGS, 0)
    miss, _ = store.get_or_compute(key, lambda: {"pair": (1, 2.5), "nan": float("nan")})
    hit, _ = store.get_or_compute(key, lambda: {})
    assert miss["pair"] == hit["pair"] == [1, 2.5]
    assert json.dumps(miss) == json.dumps(hit)


def test_non_dict_or_unserialisable_results_are_refused(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    key = store.key(CKPT, "forgetting", SETTINGS, 0)
    with pytest.raises(StoreError, match="must be a dict"):
        store.get_or_compute(key, lambda: [1, 2])  # type: ignore[arg-type, return-value]
    with pytest.raises(StoreError, match="JSON"):
        store.get_or_compute(key, lambda: {"x": {1, 2}})
    assert store.get(key) is None
    assert list(store.entry_paths()) == []


def test_failed_compute_stores_nothing_and_releases_lock(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    key = store.key(CKPT, "forgetting", SETTINGS, 0)

    def boom() -> dict:
        raise RuntimeError("evaluation failed")

    with pytest.raises(RuntimeError, match="evaluation failed"):
        store.get_or_compute(key, boom)
    assert list(store.entry_paths()) == []
    assert list((tmp_path / "locks").iterdir()) == []
    result, hit = store.get_or_compute(key, lambda: {"x": 1})
    assert result == {"x": 1} and not hit


def test_entry_records_metadata_and_hashes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    store = ResultStore(tmp_path)
    key = store.key(CKPT, "downstream", SETTINGS, 3)
    assert isinstance(key, StoreKey) and key.parts["seed"] == 3
    store.get_or_compute(key, lambda: {"accuracy": 0.75})
    entry = json.loads(store.path(key).read_text())
    assert entry["key"] == key
    assert entry["key_parts"]["kind"] == "downstream"
    assert entry["key_parts"]["checkpoint_hash"] == CKPT
    assert entry["meta"]["slurm_job_id"] == "4242"
    assert entry["meta"]["fairforget_version"]
    assert entry["meta"]["host"]
    import torch  # the store reads how torch computes only where torch is already imported

    torch_threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        store.get_or_compute(store.key(CKPT, "downstream", SETTINGS, 4), lambda: {"accuracy": 0.5})
    finally:
        torch.set_num_threads(torch_threads)
    one_thread = json.loads(store.path(store.key(CKPT, "downstream", SETTINGS, 4)).read_text())
    assert one_thread["meta"]["torch_threads"] == 1
    assert one_thread["meta"]["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert entry["result_sha256"] == payload_sha256({"accuracy": 0.75})
    info = store.inspect(store.path(key))
    assert info.valid and info.kind == "downstream" and info.checkpoint_hash == CKPT


def test_plain_string_key_works(tmp_path: Path) -> None:
    """Keys written to JSON and read back are plain str: they must still work (no key parts recorded)."""
    store = ResultStore(tmp_path)
    key = str(store.key(CKPT, "forgetting", SETTINGS, 0))
    store.get_or_compute(key, lambda: {"x": 1})
    assert store.get(key) == {"x": 1}
    assert json.loads(store.path(key).read_text())["key_parts"] is None


def test_record_use_and_cache_record(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "store")
    key = store.key(CKPT, "forgetting", SETTINGS, 0)
    result, hit = store.get_or_compute(key, lambda: {"x": 1})
    referrer = tmp_path / "results" / "metrics.json"
    referrer.parent.mkdir()
    referrer.write_text(json.dumps({"cache": cache_record(key, hit), "metrics": result}))
    ref = store.record_use(key, referrer)
    assert ref.is_file()
    assert store.recorded_referrers(key) == [(ref, referrer.resolve())]
    assert cache_record(key, True) == {"hit": True, "key": str(key)}


def test_numpy_values_are_stored_as_plain_numbers(tmp_path: Path) -> None:
    import numpy as np

    store = ResultStore(tmp_path)
    key = store.key(CKPT, "forgetting", {"n": np.int64(3)}, 0)
    assert key == store.key(CKPT, "forgetting", {"n": 3}, 0)
    result, _ = store.get_or_compute(key, lambda: {"v": np.float32(0.5), "a": np.arange(3), "k": np.int64(7)})
    assert result == {"v": 0.5, "a": [0, 1, 2], "k": 7}
    assert store.get(key) == result


_json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**60), 2**60),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
)
_json = st.recursive(
    _json_leaf,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(result=st.dictionaries(st.text(max_size=8), _json, max_size=5))
def test_any_json_result_round_trips_and_verifies(tmp_path: Path, result: dict) -> None:
    store = ResultStore(tmp_path)
    key = store.key(CKPT, "forgetting", {"case": payload_sha256(result)}, 0)
    stored = store.put(key, result)
    assert payload_sha256(store.get(key)) == payload_sha256(stored) == payload_sha256(result)
    assert store.inspect(store.path(key)).valid
