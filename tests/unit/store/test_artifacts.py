"""Files stored with an entry (`get_or_compute(..., artifacts_dir=...)`): restored on a hit, verified, gc'd."""

from __future__ import annotations

import errno
import json
import os
import shutil
import time
from pathlib import Path

import pytest

from fairforget import io as ff_io
from fairforget.errors import StoreError
from fairforget.store import ResultStore, collect_garbage

CKPT = "7" * 64


class ScoringRun:
    """A compute function that writes per-item scores into the output folder, like an evaluation does."""

    def __init__(self, folder: Path, scores: str = "0.1\n0.2\n") -> None:
        self.folder, self.scores, self.calls = folder, scores, 0

    def __call__(self) -> dict:
        self.calls += 1
        (self.folder / "nested").mkdir(parents=True, exist_ok=True)
        (self.folder / "scores.tsv").write_text(self.scores)
        (self.folder / "nested" / "tokens.bin").write_bytes(bytes(range(64)))
        return {"metrics": {"mean": 0.15}}


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_hit_restores_the_files(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "store")
    key = store.key(CKPT, "forgetting", {"n": 1}, 0)
    out = tmp_path / "eval" / "scores"
    run = ScoringRun(out)
    result, hit = store.get_or_compute(key, run, artifacts_dir=out)
    assert not hit and result == {"metrics": {"mean": 0.15}}
    written = _tree(out)
    assert set(written) == {"scores.tsv", "nested/tokens.bin"}

    out_again = tmp_path / "eval_again" / "scores"
    (out_again / "stale").mkdir(parents=True)  # an old output must be replaced, not merged
    result2, hit2 = store.get_or_compute(key, ScoringRun(out_again, "other\n"), artifacts_dir=out_again)
    assert hit2 and result2 == result and run.calls == 1
    assert _tree(out_again) == written
    info = store.list_entries()[0]
    assert info.valid and info.artifacts_bytes == sum(len(b) for b in written.values())


def test_damaged_stored_file_is_detected_and_recomputed(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = ResultStore(tmp_path / "store")
    key = store.key(CKPT, "forgetting", {"n": 1}, 0)
    out = tmp_path / "scores"
    store.get_or_compute(key, ScoringRun(out), artifacts_dir=out)
    folder = store.list_entries()[0].artifacts_dir
    (folder / "scores.tsv").write_text("0.1\n0.9\n")  # silent corruption of a stored score
    assert "do not match" in store.inspect(store.path(key)).problem
    run = ScoringRun(out)
    with caplog.at_level("WARNING", logger="fairforget.store"):
        _, hit = store.get_or_compute(key, run, artifacts_dir=out)
    assert not hit and run.calls == 1
    assert str(store.path(key)) in caplog.text
    moved = sorted(p.name for p in (store.root / "corrupt").iterdir())
    assert any(name.startswith(folder.name) for name in moved)  # the damaged files are kept as evidence
    assert store.verify() == []


def test_missing_files_folder_makes_the_entry_unusable(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "store")
    key = store.key(CKPT, "forgetting", {"n": 1}, 0)
    out = tmp_path / "scores"
    store.get_or_compute(key, ScoringRun(out), artifacts_dir=out)
    folder = store.list_entries()[0].artifacts_dir
    shutil.rmtree(folder)
    assert store.get(key) is None


def test_entry_without_files_is_recomputed_for_a_caller_that_needs_them(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "store")
    key = store.key(CKPT, "forgetting", {"n": 1}, 0)
    store.get_or_compute(key, lambda: {"metrics": {}})
    out = tmp_path / "scores"
    run = ScoringRun(out)
    _, hit = store.get_or_compute(key, run, artifacts_dir=out)
    assert not hit and run.calls == 1
    assert store.list_entries()[0].artifacts_dir is not None
    assert not (store.root / "corrupt").exists()  # not corrupt, only insufficient


def test_compute_that_writes_no_files_is_an_error(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "store")
    key = store.key(CKPT, "forgetting", {"n": 1}, 0)
    with pytest.raises(StoreError, match="did not write its files"):
        store.get_or_compute(key, lambda: {"metrics": {}}, artifacts_dir=tmp_path / "never_written")
    assert list(store.entry_paths()) == []


def test_disk_full_while_storing_files_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = ResultStore(tmp_path / "store")
    key = store.key(CKPT, "forgetting", {"n": 1}, 0)
    out = tmp_path / "scores"
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if "/entries/" in os.readlink(f"/proc/self/fd/{fd}"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(ff_io.os, "fsync", fsync)
    with pytest.raises(StoreError, match="no space left on device"):
        store.get_or_compute(key, ScoringRun(out), artifacts_dir=out)
    monkeypatch.undo()
    assert list(store.entry_paths()) == [] and store.temp_files() == [] and store.artifact_folders() == []
    _, hit = store.get_or_compute(key, ScoringRun(out), artifacts_dir=out)
    assert not hit and store.verify() == []


def test_gc_removes_files_with_their_entry_and_orphans(tmp_path: Path) -> None:
    results = tmp_path / "results"
    results.mkdir()
    store = ResultStore(tmp_path / "store")
    keep = store.key(CKPT, "forgetting", {"n": 1}, 0)
    drop = store.key(CKPT, "forgetting", {"n": 2}, 0)
    for key in (keep, drop):
        store.get_or_compute(key, ScoringRun(tmp_path / key[:6]), artifacts_dir=tmp_path / key[:6])
    (results / "metrics.json").write_text(json.dumps({"cache": {"key": keep, "hit": False}}))
    drop_folder = store.inspect(store.path(drop)).artifacts_dir
    orphan = store.path(keep).parent / f"{keep}.{'0' * 16}.files"
    orphan.mkdir()
    (orphan / "x").write_text("left by a writer killed before its entry")
    old = time.time() - 7200
    os.utime(orphan, (old, old))

    dry = collect_garbage(store, [results], delete=False, min_age_s=0)
    assert [info.key for info in dry.unreferenced] == [drop] and dry.orphan_artifacts == [orphan]
    assert drop_folder.is_dir() and orphan.is_dir()
    collect_garbage(store, [results], delete=True, min_age_s=0)
    assert not drop_folder.exists() and not orphan.exists()
    assert [info.key for info in store.list_entries()] == [keep]
    assert store.verify() == []
