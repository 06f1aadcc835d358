"""The content-addressed result store: evaluation results keyed by what they were computed from.

A key is the sha256 of (store format, checkpoint content hash, evaluation kind, hash of the evaluation's
settings and data, seed). Layout under `root` (config `store_dir`; shared scratch on a cluster):

    root/entries/<key[:2]>/<key>.json    one entry: canonical JSON + newline (`codec.encode_entry`)
    root/entries/<key[:2]>/<key>.<h>.files/  files stored with the entry, if any (`fairforget.store.artifacts`)
    root/locks/<key>.lock                who is computing a key now (`fairforget.store.lock`)
    root/refs/<key[:2]>/<key>/<id>.json  result files that recorded using the entry (`record_use`)
    root/corrupt/                        entries that failed verification, moved aside (never deleted)

A read accepts an entry only if it decodes and verifies (`codec.decode_entry`); a rejected entry is logged,
moved to `root/corrupt/` and recomputed. Writes go to a temporary file in the entry's folder, are fsynced and
renamed over the entry (`os.replace`, atomic on POSIX and NFS), so a reader sees either no entry or a whole one;
concurrent writers of one key leave one valid entry (last writer wins; its content is equal on one machine and
kernel path, and equal within floating-point tolerance across machines, see README "Determinism").
"""

from __future__ import annotations

import errno
import json
import logging
import numbers
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fairforget.errors import StoreError
from fairforget.hashing import sha256_bytes, sha256_file
from fairforget.io import atomic_write_bytes
from fairforget.store import artifacts as store_artifacts
from fairforget.store.codec import (
    KEY_PATTERN,
    STORE_FORMAT,
    EntryInfo,
    StoreKey,
    canonical_bytes,
    check_key,
    creation_meta,
    decode_entry,
    encode_entry,
    key_from_parts,
    now_iso,
    payload_sha256,
)
from fairforget.store.lock import KeyLocks

log = logging.getLogger(__name__)

ENTRIES_DIR = "entries"
LOCKS_DIR = "locks"
REFS_DIR = "refs"
CORRUPT_DIR = "corrupt"


@dataclass
class StoreStats:
    hits: int = 0
    misses: int = 0
    corrupt: int = 0


class ResultStore:
    """Content-addressed store of evaluation results (see the module docstring for the guarantees)."""

    def __init__(
        self,
        root: str | Path,
        *,
        use_lock: bool = True,
        lock_timeout_s: float = 6 * 3600.0,
        stale_lock_s: float = 600.0,
        heartbeat_s: float = 30.0,
        poll_s: float = 0.2,
    ) -> None:
        self.root = Path(root)
        self.use_lock = use_lock
        self.locks = KeyLocks(self.root / LOCKS_DIR, lock_timeout_s, stale_lock_s, heartbeat_s, poll_s)
        self.stats = StoreStats()

    # ---- keys and paths -------------------------------------------------------------------------------

    def key(
        self,
        checkpoint_hash: str,
        kind: str,
        settings: dict[str, Any],
        seed: int | None = None,
        data_files: Mapping[str, str | Path] | None = None,
    ) -> StoreKey:
        """The key of an evaluation of a checkpoint.

        `settings` must hold everything the result depends on besides the checkpoint (metric options, batch
        size if it changes numbers, data hashes). `data_files` maps a stable label to a file whose sha256 is
        folded into the settings hash — labels, not paths, so clones with other results dirs share entries.
        """
        if not isinstance(checkpoint_hash, str) or not checkpoint_hash:
            raise StoreError(f"result store: checkpoint_hash must be a non-empty string, got {checkpoint_hash!r}")
        if not isinstance(kind, str) or not kind:
            raise StoreError(f"result store: kind must be a non-empty string, got {kind!r}")
        if not isinstance(settings, dict):
            raise StoreError(f"result store: settings must be a dict, got {type(settings).__name__}")
        if seed is not None:
            if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
                raise StoreError(f"result store: seed must be an int or None, got {seed!r}")
            seed = int(seed)  # numpy integers hash like Python ints
        hashed_settings: Any = settings
        if data_files:
            data = {}
            for label, path in sorted(data_files.items()):
                if not Path(path).is_file():
                    raise StoreError(f"result store: data file {path} (label {label!r}) not found")
                data[label] = sha256_file(path)
            hashed_settings = {"settings": settings, "data_sha256": data}
        parts = {
            "format": STORE_FORMAT,
            "checkpoint_hash": checkpoint_hash,
            "kind": kind,
            "settings_hash": sha256_bytes(canonical_bytes(hashed_settings)),
            "seed": seed,
        }
        return StoreKey(key_from_parts(parts), parts)

    def path(self, key: str) -> Path:
        check_key(key)
        return self.root / ENTRIES_DIR / key[:2] / f"{key}.json"

    # ---- reading ----------------------------------------------------------------------------------------

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored result, or None if there is no acceptable entry (a corrupt one is moved aside)."""
        loaded = self._load(key, want_artifacts=False)
        return None if loaded is None else loaded[0]

    def _load(self, key: str, want_artifacts: bool) -> tuple[dict[str, Any], Path | None] | None:
        """(result, files folder or None) of a verified entry; None if absent, corrupt or lacking files."""
        path = self.path(key)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as err:
            raise StoreError(f"{path}: cannot read result store entry ({err.strerror})") from err
        entry, problem = decode_entry(raw, key)
        folder = None
        if entry is not None and entry.get("artifacts") is not None:
            folder = path.parent / entry["artifacts"]["dir"]
            problem = store_artifacts.problem_with(folder, entry["artifacts"]["files"])
        if problem is not None:
            self.stats.corrupt += 1
            moved = self.quarantine(path, problem)
            log.warning("result store entry %s is corrupt (%s); moved to %s and recomputing", path, problem, moved)
            return None
        assert entry is not None
        if want_artifacts and folder is None:
            # Stored without files (by a caller that did not keep any): not enough here; recompute and replace.
            log.info("result store entry %s has no files; recomputing to keep them", path)
            return None
        return entry["result"], folder

    def inspect(self, path: str | Path) -> EntryInfo:
        """Verify one entry file (and its files folder) without changing anything."""
        path = Path(path)
        key = path.name.removesuffix(".json")
        try:
            raw = path.read_bytes()
        except OSError as err:
            return EntryInfo(key=key, path=path, size_bytes=0, problem=f"unreadable ({err.strerror})")
        if not KEY_PATTERN.match(key):
            return EntryInfo(key=key, path=path, size_bytes=len(raw), problem="file name is not a store key")
        entry, problem = decode_entry(raw, key)
        if entry is None:
            return EntryInfo(key=key, path=path, size_bytes=len(raw), problem=problem)
        folder = None
        if entry.get("artifacts") is not None:
            folder = path.parent / entry["artifacts"]["dir"]
            problem = store_artifacts.problem_with(folder, entry["artifacts"]["files"])
        parts = entry["key_parts"] or {}
        return EntryInfo(
            key=key,
            path=path,
            size_bytes=len(raw),
            problem=problem,
            kind=parts.get("kind"),
            checkpoint_hash=parts.get("checkpoint_hash"),
            created=entry["meta"].get("created"),
            created_unix=entry["meta"].get("created_unix"),
            artifacts_dir=folder,
            artifacts_bytes=store_artifacts.folder_bytes(folder) if folder is not None else 0,
        )

    def entry_paths(self) -> Iterator[Path]:
        """Every entry file (temporary files of writes in progress excluded), in key order."""
        entries = self.root / ENTRIES_DIR
        if not entries.is_dir():
            return
        for shard in sorted(entries.iterdir()):
            if shard.is_dir():
                yield from sorted(p for p in shard.iterdir() if p.suffix == ".json" and not p.name.startswith("."))

    def temp_files(self) -> list[Path]:
        """Temporary files and folders left by writes (in progress, or of a process killed before its rename)."""
        entries = self.root / ENTRIES_DIR
        if not entries.is_dir():
            return []
        return sorted(entries.glob("*/.*.tmp"))

    def artifact_folders(self) -> list[Path]:
        entries = self.root / ENTRIES_DIR
        if not entries.is_dir():
            return []
        return sorted(p for p in entries.glob(f"*/*{store_artifacts.SUFFIX}") if store_artifacts.is_folder_name(p.name))

    # ---- writing ----------------------------------------------------------------------------------------

    def put(
        self,
        key: str,
        result: dict[str, Any],
        compute_seconds: float | None = None,
        artifacts_dir: str | Path | None = None,
    ) -> dict[str, Any]:
        """Write an entry atomically; return the result as a later read returns it (a JSON round trip).

        With `artifacts_dir`, the files under it are stored with the entry (published before the entry).
        """
        path = self.path(key)
        if not isinstance(result, dict):
            raise StoreError(f"result store: a result must be a dict, got {type(result).__name__} (key {key})")
        stored_result = json.loads(canonical_bytes(result))
        meta = creation_meta()
        meta["compute_seconds"] = compute_seconds
        entry = {
            "format": STORE_FORMAT,
            "key": str(key),
            "key_parts": getattr(key, "parts", None),
            "meta": meta,
            "result": stored_result,
            "result_sha256": payload_sha256(stored_result),
        }
        try:
            if artifacts_dir is not None:
                files = store_artifacts.hash_tree(Path(artifacts_dir))
                name = store_artifacts.folder_name(key, files)
                path.parent.mkdir(parents=True, exist_ok=True)
                store_artifacts.publish(Path(artifacts_dir), path.parent, name, files, self._set_aside)
                entry["artifacts"] = {"dir": name, "files": files}
            atomic_write_bytes(path, encode_entry(entry))
        except OSError as err:
            if err.errno == errno.ENOSPC:
                raise StoreError(
                    f"{path}: no space left on device while writing a result store entry; nothing was "
                    "written (free space or point config key 'store_dir' elsewhere)"
                ) from err
            raise StoreError(f"{path}: cannot write result store entry ({err.strerror or err})") from err
        return stored_result

    def get_or_compute(
        self,
        key: str,
        compute: Callable[[], dict[str, Any]],
        artifacts_dir: str | Path | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """The stored result for `key` (hit) or `compute()`'s result, stored (miss). Returns (result, hit).

        On a hit or a miss the result is the same JSON-normalised dict (tuples become lists, ...). With
        `artifacts_dir`, `compute()` must write files there (e.g. per-item scores); they are stored with the
        entry and verified, and a hit puts a copy of them back in `artifacts_dir`.
        """
        check_key(key)
        want = artifacts_dir is not None
        loaded = self._load(key, want)
        lock = None
        if loaded is None and self.use_lock:
            lock, loaded = self.locks.acquire_or_wait(key, lambda: self._load(key, want))
            if lock is not None and loaded is None:
                # The previous holder may have written the entry just before we took its lock.
                loaded = self._load(key, want)
                if loaded is not None:
                    lock.release()
        if loaded is not None:
            result, folder = loaded
            if want:
                assert folder is not None
                assert artifacts_dir is not None
                store_artifacts.restore(folder, Path(artifacts_dir))
            self.stats.hits += 1
            return result, True
        try:
            started = time.monotonic()
            result = compute()
            if want and artifacts_dir is not None and not Path(artifacts_dir).is_dir():
                raise StoreError(f"result store: the computation did not write its files to {artifacts_dir}")
            stored = self.put(key, result, round(time.monotonic() - started, 3), artifacts_dir)
        finally:
            if lock is not None:
                lock.release()
        self.stats.misses += 1
        return stored, False

    def record_use(self, key: str, referrer_path: str | Path) -> Path:
        """Note that `referrer_path` (a result JSON) uses the entry, so gc keeps it while that file names it.

        gc also finds references by scanning results dirs; this covers clones whose results dir the person
        running gc does not pass (several clones sharing one store).
        """
        check_key(key)
        referrer = Path(referrer_path).resolve()
        ref_dir = self.root / REFS_DIR / key[:2] / key
        ref_path = ref_dir / f"{sha256_bytes(str(referrer).encode('utf-8'))[:16]}.json"
        record = {"referrer": str(referrer), "host": socket.gethostname(), "time": now_iso()}
        try:
            atomic_write_bytes(ref_path, canonical_bytes(record) + b"\n")
        except OSError as err:
            raise StoreError(f"{ref_path}: cannot record a use of the result store entry ({err})") from err
        return ref_path

    def quarantine(self, path: str | Path, reason: str) -> Path | None:
        """Move an entry aside to `root/corrupt/` (never delete it); None if it vanished meanwhile."""
        path = Path(path)
        corrupt = self.root / CORRUPT_DIR
        corrupt.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        target = corrupt / f"{path.stem}.{stamp}.{os.getpid()}.{uuid.uuid4().hex[:8]}.json"
        try:
            os.replace(path, target)
        except FileNotFoundError:
            return None  # another process moved it aside (or replaced it) first
        except OSError as err:
            raise StoreError(f"{path}: corrupt result store entry ({reason}) cannot be moved aside: {err}") from err
        for folder in sorted(path.parent.glob(f"{path.stem}.*{store_artifacts.SUFFIX}")):
            self._set_aside(folder, reason)
        try:
            (target.with_suffix(".reason.txt")).write_text(f"{path}\n{reason}\n", encoding="utf-8")
        except OSError:
            pass  # the moved file is what matters
        return target

    def _set_aside(self, folder: Path, reason: str) -> None:
        """Move a files folder to `corrupt/` (never delete it)."""
        corrupt = self.root / CORRUPT_DIR
        corrupt.mkdir(parents=True, exist_ok=True)
        target = corrupt / f"{folder.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
        try:
            os.replace(folder, target)
        except FileNotFoundError:
            return
        log.warning("result store: moved files folder %s to %s (%s)", folder, target, reason)

    # ---- locking ----------------------------------------------------------------------------------------

    # ---- maintenance ------------------------------------------------------------------------------------

    def verify(self, repair: bool = False) -> list[EntryInfo]:
        """Re-hash every entry; return the ones that fail (moved to `corrupt/` if `repair`)."""
        bad = [info for info in map(self.inspect, self.entry_paths()) if not info.valid]
        if repair:
            for info in bad:
                self.quarantine(info.path, info.problem or "corrupt")
        return bad

    def list_entries(self) -> list[EntryInfo]:
        return [self.inspect(path) for path in self.entry_paths()]

    def recorded_referrers(self, key: str) -> list[tuple[Path, Path]]:
        """(ref file, referrer path) pairs recorded with `record_use` for a key."""
        ref_dir = self.root / REFS_DIR / key[:2] / key
        pairs = []
        if ref_dir.is_dir():
            for ref in sorted(ref_dir.glob("*.json")):
                try:
                    pairs.append((ref, Path(json.loads(ref.read_text(encoding="utf-8"))["referrer"])))
                except (OSError, ValueError, KeyError, TypeError):
                    pairs.append((ref, Path("")))
        return pairs
