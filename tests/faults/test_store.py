"""Result store under faults: corruption, concurrent writers, a full disk, a writer killed mid-write."""

from __future__ import annotations

import errno
import json
import logging
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from fairforget import io as ff_io
from fairforget.errors import StoreError
from fairforget.store import ResultStore

CKPT = "e" * 64
SETTINGS = {"metric": "selective_forgetting", "n": 3}
RESULT = {"selective_forgetting.flip_rate": {"value": 0.125, "ci_low": 0.0, "ci_high": 0.5, "n": 8}}


def _stored(tmp_path: Path) -> tuple[ResultStore, str]:
    store = ResultStore(tmp_path / "store")
    key = store.key(CKPT, "forgetting", SETTINGS, seed=0)
    store.get_or_compute(key, lambda: RESULT)
    return store, key


# ---- corruption ---------------------------------------------------------------------------------------


def test_flipped_byte_is_detected_moved_aside_and_recomputed(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store, key = _stored(tmp_path)
    path = store.path(key)
    raw = bytearray(path.read_bytes())
    # Flip a digit of the stored value 0.125 -> 0.124: still valid JSON, only the hashes can tell.
    position = raw.index(b"0.125")
    raw[position + 4] ^= 0x01
    path.write_bytes(bytes(raw))
    assert json.loads(path.read_bytes())  # the corruption is parseable: the hash check must catch it
    calls = []

    def compute() -> dict:
        calls.append(1)
        return RESULT

    with caplog.at_level(logging.WARNING, logger="fairforget.store"):
        result, hit = store.get_or_compute(key, compute)
    assert not hit and calls == [1] and result == RESULT
    assert str(path) in caplog.text and "corrupt" in caplog.text
    moved = [p for p in (store.root / "corrupt").iterdir() if p.suffix == ".json"]
    assert len(moved) == 1 and moved[0].read_bytes() == bytes(raw)  # moved aside, never deleted
    assert store.get(key) == RESULT and store.inspect(path).valid  # recomputed entry is sound
    assert store.stats.corrupt == 1


def test_every_single_byte_flip_is_refused(tmp_path: Path) -> None:
    """Exhaustive: flipping the low bit of any one byte of an entry makes the store refuse it."""
    store, key = _stored(tmp_path)
    path = store.path(key)
    original = path.read_bytes()
    for position in range(len(original)):
        corrupted = bytearray(original)
        corrupted[position] ^= 0x01
        path.write_bytes(bytes(corrupted))
        info = store.inspect(path)
        assert not info.valid, f"flip at byte {position} ({original[position : position + 1]!r}) went unnoticed"
    path.write_bytes(original)
    assert store.inspect(path).valid


@pytest.mark.parametrize(
    "damage",
    [
        lambda raw: raw[: len(raw) // 2],  # truncated (a non-atomic writer killed midway)
        lambda raw: b"",  # empty
        lambda raw: b"\x00" * len(raw),  # zeroed blocks after a crash
        lambda raw: json.dumps({**json.loads(raw), "key": "f" * 64}).encode(),  # wrong key
        lambda raw: json.dumps(json.loads(raw), indent=2).encode(),  # same content, edited bytes
    ],
    ids=["truncated", "empty", "zeroed", "wrong-key", "reformatted"],
)
def test_damaged_entries_are_not_used(tmp_path: Path, damage) -> None:
    store, key = _stored(tmp_path)
    path = store.path(key)
    path.write_bytes(damage(path.read_bytes()))
    assert store.get(key) is None
    assert not path.exists()
    assert len(list((store.root / "corrupt").glob("*.json"))) == 1


def test_forged_result_with_recomputed_result_hash_is_refused(tmp_path: Path) -> None:
    """Editing the result and its result_sha256 still fails: the entry hash covers everything."""
    from fairforget.store import canonical_bytes, payload_sha256

    store, key = _stored(tmp_path)
    path = store.path(key)
    entry = json.loads(path.read_bytes())
    entry["result"] = {"forged": 1.0}
    entry["result_sha256"] = payload_sha256(entry["result"])
    path.write_bytes(canonical_bytes(entry) + b"\n")
    assert "entry_sha256" in store.inspect(path).problem
    assert store.get(key) is None


# ---- concurrency --------------------------------------------------------------------------------------


def _concurrent_writer(root: str, barrier, marker_dir: str, use_lock: bool, files_dir: str | None, queue) -> None:
    store = ResultStore(root, use_lock=use_lock, poll_s=0.02)
    key = store.key(CKPT, "forgetting", SETTINGS, seed=0)

    def compute() -> dict:
        # Count real computations; sleep so that the other writers arrive while this one works.
        Path(marker_dir, f"{os.getpid()}").touch()
        time.sleep(0.3)
        if files_dir is not None:
            Path(files_dir).mkdir(parents=True)
            Path(files_dir, "scores.txt").write_text("0.5\n" * 1000)
        return {"value": 0.5, "items": list(range(2000))}

    barrier.wait()
    result, hit = store.get_or_compute(key, compute, artifacts_dir=files_dir)
    files = Path(files_dir, "scores.txt").read_text() if files_dir is not None else ""
    queue.put((json.dumps(result, sort_keys=True) + files, hit))


@pytest.mark.parametrize("with_files", [False, True], ids=["result", "result+files"])
@pytest.mark.parametrize("use_lock", [True, False], ids=["locked", "lock-free"])
def test_eight_processes_writing_one_key(tmp_path: Path, use_lock: bool, with_files: bool) -> None:
    context = multiprocessing.get_context("fork")
    root, markers = tmp_path / "store", tmp_path / "markers"
    markers.mkdir()
    barrier, queue = context.Barrier(8), context.Queue()
    workers = [
        context.Process(
            target=_concurrent_writer,
            args=(str(root), barrier, str(markers), use_lock, str(tmp_path / f"out{i}") if with_files else None, queue),
        )
        for i in range(8)
    ]
    for worker in workers:
        worker.start()
    outcomes = [queue.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    store = ResultStore(root)
    entries = list(store.entry_paths())
    assert len(entries) == 1 and store.inspect(entries[0]).valid
    assert store.temp_files() == []
    assert len(store.artifact_folders()) == (1 if with_files else 0)
    assert len({result for result, _ in outcomes}) == 1  # every process returns the same result (and files)
    computed = len(list(markers.iterdir()))
    hits = sum(hit for _, hit in outcomes)
    assert computed + hits == 8
    if use_lock:
        # On a local filesystem the O_EXCL lock makes the others wait instead of recomputing.
        assert computed == 1 and hits == 7
        assert list((root / "locks").iterdir()) == []
    else:
        assert computed >= 1


# ---- full disk ----------------------------------------------------------------------------------------


def _fd_path(fd: int) -> str:
    return os.readlink(f"/proc/self/fd/{fd}")


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to tell which file a write targets")
@pytest.mark.parametrize("failing_call", ["write", "fsync", "replace"])
def test_disk_full_leaves_no_partial_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing_call: str) -> None:
    store, other_key = _stored(tmp_path)  # an existing entry that must survive
    key = store.key(CKPT, "forgetting", {**SETTINGS, "n": 4}, seed=0)
    real_write, real_fsync = os.write, os.fsync

    def full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def write(fd: int, data) -> int:
        if "/entries/" in _fd_path(fd):
            # Write part of the data first, as a real full disk does, then fail.
            real_write(fd, bytes(data)[:10])
            full()
        return real_write(fd, data)

    def fsync(fd: int) -> None:
        if "/entries/" in _fd_path(fd):
            full()
        real_fsync(fd)

    if failing_call == "write":
        monkeypatch.setattr(ff_io.os, "write", write)
    elif failing_call == "fsync":
        monkeypatch.setattr(ff_io.os, "fsync", fsync)
    else:
        monkeypatch.setattr(ff_io.os, "replace", full)

    with pytest.raises(StoreError, match="no space left on device") as raised:
        store.get_or_compute(key, lambda: {"x": list(range(1000))})
    assert str(store.path(key)) in str(raised.value)
    monkeypatch.undo()

    assert not store.path(key).exists()
    assert store.temp_files() == []  # no partial file
    assert list((store.root / "locks").iterdir()) == []  # lock released
    assert [info.key for info in store.list_entries()] == [other_key]
    assert store.verify() == []
    result, hit = store.get_or_compute(key, lambda: {"x": [1]})
    assert (result, hit) == ({"x": [1]}, False)  # the store still works once space is back


# ---- a writer killed mid-write ------------------------------------------------------------------------

_KILLED_WRITER = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from fairforget import io as ff_io
    from fairforget.store import ResultStore

    root, marker, stage = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    real_write = os.write

    def slow_write(fd, data):
        # A large entry written slowly: write half, announce, then hang until killed.
        if len(data) > 100_000:
            real_write(fd, bytes(data)[: len(data) // 2])
            marker.touch()
            time.sleep(600)
        return real_write(fd, data)

    def hang_before_rename(src, dst):
        marker.touch()
        time.sleep(600)

    if stage == "during-write":
        ff_io.os.write = slow_write
    else:
        ff_io.os.replace = hang_before_rename
    store = ResultStore(root)
    key = store.key("e" * 64, "forgetting", {"metric": "selective_forgetting", "n": 3}, seed=0)
    store.get_or_compute(key, lambda: {"items": list(range(100_000))})
    """
)


@pytest.mark.parametrize("stage", ["during-write", "before-rename"])
def test_writer_killed_with_sigkill_leaves_no_acceptable_entry(tmp_path: Path, stage: str) -> None:
    root, marker = tmp_path / "store", tmp_path / "writing"
    child = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(root), str(marker), stage])
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert child.poll() is None, "writer exited before reaching the write"
            assert time.monotonic() < deadline, "writer never reached the write"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)  # reaped, so the lock's pid is really dead
    assert child.returncode == -signal.SIGKILL

    store = ResultStore(root, lock_timeout_s=30)
    key = store.key(CKPT, "forgetting", SETTINGS, seed=0)
    assert len(store.temp_files()) == 1  # the killed write's leftover ...
    assert list(store.entry_paths()) == []  # ... is never an entry
    assert store.get(key) is None
    assert store.verify() == []
    assert (root / "locks" / f"{key}.lock").exists()  # the dead writer's lock is still there
    started = time.monotonic()
    result, hit = store.get_or_compute(key, lambda: {"items": [1, 2]})
    assert time.monotonic() - started < 10  # dead holder on this host: lock broken at once, no timeout wait
    assert (result, hit) == ({"items": [1, 2]}, False)
    assert store.get(key) == {"items": [1, 2]}


def test_stale_lock_from_another_host_is_broken_by_age(tmp_path: Path) -> None:
    store = ResultStore(tmp_path, stale_lock_s=1.0, poll_s=0.05)
    key = store.key(CKPT, "forgetting", SETTINGS, seed=0)
    lock = tmp_path / "locks" / f"{key}.lock"
    lock.parent.mkdir(parents=True)
    lock.write_text(json.dumps({"token": "x", "host": "some-other-node", "pid": 1, "time": "?"}))
    old = time.time() - 5
    os.utime(lock, (old, old))
    result, hit = store.get_or_compute(key, lambda: {"x": 1})
    assert (result, hit) == ({"x": 1}, False)


def test_live_lock_times_out_then_computes(tmp_path: Path) -> None:
    """Correctness never depends on the lock: a holder that never finishes only delays the others."""
    store = ResultStore(tmp_path, lock_timeout_s=0.5, poll_s=0.05)
    key = store.key(CKPT, "forgetting", SETTINGS, seed=0)
    lock = tmp_path / "locks" / f"{key}.lock"
    lock.parent.mkdir(parents=True)
    lock.write_text(json.dumps({"token": "x", "host": "some-other-node", "pid": 1, "time": "?"}))
    result, hit = store.get_or_compute(key, lambda: {"x": 1})
    assert (result, hit) == ({"x": 1}, False)
    assert lock.exists()  # not ours: left for its holder
