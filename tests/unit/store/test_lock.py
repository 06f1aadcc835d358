"""The store's lock files (fairforget.store.lock): a heartbeat keeps the holder's lock fresh, and a holder removes
only a lock that is still its own."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from fairforget.store.lock import HeartbeatLock


def lock_file(path: Path, token: str) -> Path:
    path.write_text(json.dumps({"token": token}), encoding="utf-8")
    os.utime(path, (1_000_000, 1_000_000))  # long stale
    return path


def test_the_heartbeat_refreshes_the_lock_and_release_removes_it(tmp_path: Path) -> None:
    path = lock_file(tmp_path / "k.lock", "mine")
    lock = HeartbeatLock(path, "mine", heartbeat_s=0.02)
    deadline = time.monotonic() + 10
    while path.stat().st_mtime == 1_000_000 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert path.stat().st_mtime > time.time() - 60  # refreshed by the heartbeat
    lock.release()
    assert not path.exists()


def test_a_lock_taken_over_by_a_waiter_is_left_alone(tmp_path: Path) -> None:
    path = lock_file(tmp_path / "k.lock", "mine")
    lock = HeartbeatLock(path, "mine", heartbeat_s=60)
    lock_file(path, "a waiter's")  # judged stale and replaced while the holder computed
    lock.release()
    assert json.loads(path.read_text(encoding="utf-8")) == {"token": "a waiter's"}
