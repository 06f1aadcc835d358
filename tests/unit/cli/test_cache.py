"""`fairforget cache list|verify|gc` on a small store with referenced, unreferenced and corrupt entries."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from fairforget.cli import main
from fairforget.store import ResultStore, cache_record, collect_garbage

CKPT = "9" * 64


def _populate(tmp_path: Path) -> tuple[ResultStore, Path, list[str]]:
    """Three entries; a result under results/ references the first; a model dir and its sidecar sit beside."""
    results = tmp_path / "results"
    store = ResultStore(results / "store")
    keys = []
    for n in range(3):
        key = store.key(CKPT, "forgetting", {"n": n}, seed=0)
        result, hit = store.get_or_compute(key, lambda n=n: {"value": n})
        keys.append(key)
    metrics = results / "eval" / "finetuned" / "m" / "metrics.json"
    metrics.parent.mkdir(parents=True)
    metrics.write_text(json.dumps({"kind": "forgetting", "cache": cache_record(keys[0], False), "metrics": {}}))
    model_dir = results / "models" / "finetuned" / "m"
    model_dir.mkdir(parents=True)
    (model_dir / "model.safetensors").write_bytes(b"weights")
    # A model dir's JSON naming a key must not count as a reference, nor be touched.
    (model_dir / "manifest.json").write_text(json.dumps({"cache": {"key": keys[1]}}))
    (results / "models" / "finetuned" / "m.sha256").write_text("0" * 64 + "\n")
    return store, results, keys


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_list_shows_entries(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store, _, keys = _populate(tmp_path)
    assert main(["cache", "list", "--store", str(store.root)]) == 0
    out = capsys.readouterr().out
    for key in keys:
        assert key[:16] in out
    assert "forgetting" in out and CKPT[:12] in out and "3 entries" in out


def test_store_dir_comes_from_configfile(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store, _, _ = _populate(tmp_path)
    config = tmp_path / "config.yaml"
    config.write_text(f"results_dir: {tmp_path / 'results'}\nstore_dir: {store.root}\n")
    assert main(["cache", "list", "--configfile", str(config)]) == 0
    assert "3 entries" in capsys.readouterr().out
    config.write_text("results_dir: results\n")
    assert main(["cache", "list", "--configfile", str(config)]) == 2
    assert "store_dir" in capsys.readouterr().err


def test_verify_names_corrupt_entries_and_repair_moves_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store, _, keys = _populate(tmp_path)
    assert main(["cache", "verify", "--store", str(store.root)]) == 0
    path = store.path(keys[2])
    path.write_bytes(path.read_bytes().replace(b'"value":2', b'"value":3'))
    assert main(["cache", "verify", "--store", str(store.root)]) == 1
    out = capsys.readouterr().out
    assert f"CORRUPT {path}" in out and "--repair" in out
    assert path.exists()  # plain verify changes nothing
    assert main(["cache", "verify", "--store", str(store.root), "--repair"]) == 1
    assert not path.exists()
    assert len(list((store.root / "corrupt").glob(f"{keys[2]}*.json"))) == 1
    assert main(["cache", "verify", "--store", str(store.root)]) == 0


def test_gc_dry_run_deletes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store, results, keys = _populate(tmp_path)
    before = _tree(tmp_path)
    code = main(["cache", "gc", "--store", str(store.root), "--results", str(results), "--min-age-hours", "0"])
    assert code == 0
    out = capsys.readouterr().out
    assert f"would remove {keys[1][:16]}" in out and f"would remove {keys[2][:16]}" in out
    assert f"remove {keys[0][:16]}" not in out
    assert "dry run" in out
    assert _tree(tmp_path) == before


def test_gc_delete_removes_only_unreferenced_entries(tmp_path: Path) -> None:
    store, results, keys = _populate(tmp_path)
    outside = _tree(results / "models") | _tree(results / "eval")
    code = main(
        ["cache", "gc", "--store", str(store.root), "--results", str(results), "--delete", "--min-age-hours", "0"]
    )
    assert code == 0
    assert [info.key for info in store.list_entries()] == [keys[0]]
    assert store.get(keys[0]) == {"value": 0}
    assert _tree(results / "models") | _tree(results / "eval") == outside  # checkpoints, results untouched


def test_gc_keeps_young_entries_by_default(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store, results, keys = _populate(tmp_path)
    assert main(["cache", "gc", "--store", str(store.root), "--results", str(results), "--delete"]) == 0
    assert len(store.list_entries()) == 3
    assert "2 younger than 1.0 h" in capsys.readouterr().out


def test_gc_keeps_entries_recorded_by_another_clone(tmp_path: Path) -> None:
    """A clone whose results dir gc is not told about keeps its entries via record_use."""
    store, results, keys = _populate(tmp_path)
    other = tmp_path / "other_clone" / "metrics.json"
    other.parent.mkdir()
    other.write_text(json.dumps({"cache": cache_record(keys[2], True)}))
    store.record_use(keys[2], other)
    report = collect_garbage(store, [results], delete=True, min_age_s=0)
    assert sorted(info.key for info in store.list_entries()) == sorted([keys[0], keys[2]])
    assert [info.key for info in report.unreferenced] == [keys[1]]
    other.unlink()  # that clone's result is gone: its entry is now garbage, and so is the use record
    report = collect_garbage(store, [results], delete=True, min_age_s=0)
    assert [info.key for info in report.unreferenced] == [keys[2]]
    assert store.recorded_referrers(keys[2]) == []


def test_gc_removes_old_temp_files_only_with_delete(tmp_path: Path) -> None:
    store, results, keys = _populate(tmp_path)
    leftover = store.path(keys[0]).parent / f".{keys[0]}.json.abc.tmp"
    leftover.write_bytes(b"half an entry")
    old = time.time() - 2 * 3600
    os.utime(leftover, (old, old))
    assert collect_garbage(store, [results], delete=False, min_age_s=0).stale_temp_files == [leftover]
    assert leftover.exists()
    collect_garbage(store, [results], delete=True, min_age_s=0)
    assert not leftover.exists()


def test_gc_needs_an_existing_results_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store, _, _ = _populate(tmp_path)
    code = main(["cache", "gc", "--store", str(store.root), "--results", str(tmp_path / "nope"), "--delete"])
    assert code == 2
    assert "nope" in capsys.readouterr().err
    assert len(store.list_entries()) == 3


def test_gc_never_deletes_corrupt_entries(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store, results, keys = _populate(tmp_path)
    path = store.path(keys[1])
    path.write_bytes(path.read_bytes()[:-5])
    assert (
        main(["cache", "gc", "--store", str(store.root), "--results", str(results), "--delete", "--min-age-hours", "0"])
        == 0
    )
    assert f"kept CORRUPT {path}" in capsys.readouterr().out
    assert path.exists()
    assert sorted(p.name for p in store.entry_paths()) == sorted([f"{keys[0]}.json", f"{keys[1]}.json"])
