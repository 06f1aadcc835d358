"""The result store's per-key lock files: who is computing a key now, so that others wait instead of computing it
again. Best effort: correctness never needs a lock (an entry is written atomically, last writer wins).

A lock file is created with O_EXCL and kept fresh by a heartbeat; a lock is stale when its holder is a dead
process on this host or it had no heartbeat for `stale_s`; a waiter breaks a stale lock, and computes anyway when
waiting times out.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from fairforget.store.codec import canonical_bytes, now_iso

log = logging.getLogger(__name__)
Loaded = TypeVar("Loaded")


class HeartbeatLock:
    """An O_EXCL lock file whose mtime a heartbeat thread refreshes while the holder computes."""

    def __init__(self, path: Path, token: str, heartbeat_s: float) -> None:
        self.path = path
        self.token = token
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, args=(heartbeat_s,), daemon=True)
        self._thread.start()

    def _beat(self, heartbeat_s: float) -> None:
        while not self._stop.wait(heartbeat_s):
            try:
                os.utime(self.path)
            except OSError:
                return

    def release(self) -> None:
        self._stop.set()
        self._thread.join()
        try:
            # Only remove the lock if it is still ours (a waiter may have judged it stale and replaced it).
            if json.loads(self.path.read_text(encoding="utf-8")).get("token") == self.token:
                self.path.unlink()
        except (OSError, ValueError):
            pass


class KeyLocks:
    """The lock files `folder/<key>.lock` of a store's keys."""

    def __init__(self, folder: Path, timeout_s: float, stale_s: float, heartbeat_s: float, poll_s: float) -> None:
        self.folder = folder
        self.timeout_s = timeout_s
        self.stale_s = stale_s
        self.heartbeat_s = heartbeat_s
        self.poll_s = poll_s

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.lock"

    def try_lock(self, key: str) -> HeartbeatLock:
        """The key's lock, taken now (FileExistsError when another process holds it)."""
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        token = uuid.uuid4().hex
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)  # FileExistsError if held
        try:
            info = {"token": token, "host": socket.gethostname(), "pid": os.getpid(), "time": now_iso()}
            os.write(fd, canonical_bytes(info))
        except OSError:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        os.close(fd)
        return HeartbeatLock(path, token, self.heartbeat_s)

    def is_stale(self, path: Path) -> bool:
        """Stale: no heartbeat for `stale_s`, or its holder is a dead process on this host."""
        try:
            age = time.time() - path.stat().st_mtime
        except FileNotFoundError:
            return False  # released meanwhile: just try again
        if age > self.stale_s:
            return True
        try:
            holder = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False  # gone or still being written: judge it by age next time
        if holder.get("host") == socket.gethostname() and isinstance(holder.get("pid"), int):
            try:
                os.kill(holder["pid"], 0)
            except ProcessLookupError:
                return True
            except PermissionError:
                return False
        return False

    def acquire_or_wait(
        self, key: str, load: Callable[[], Loaded | None]
    ) -> tuple[HeartbeatLock | None, Loaded | None]:
        """Take the key's lock, or wait until another process's entry appears (`load` returns it; then return it)."""
        deadline = time.monotonic() + self.timeout_s
        path = self.path(key)
        while True:
            try:
                return self.try_lock(key), None
            except FileExistsError:
                pass
            except OSError as err:
                log.warning("result store: cannot create lock %s (%s); computing without it", path, err)
                return None, None
            loaded = load()
            if loaded is not None:
                return None, loaded
            if self.is_stale(path):
                log.warning("result store: breaking stale lock %s", path)
                path.unlink(missing_ok=True)
                continue
            if time.monotonic() > deadline:
                log.warning("result store: waited %.0f s for lock %s; computing anyway", self.timeout_s, path)
                return None, None
            time.sleep(self.poll_s)
