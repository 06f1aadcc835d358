"""Garbage collection of the result store: which entries no current result references, and removing them.

An entry is referenced if a result JSON under one of the results dirs names its key as
`{"cache": {"key": ...}}` (anywhere in the file), or a `record_use` referrer still exists and names it.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fairforget.errors import StoreError
from fairforget.store.codec import EntryInfo
from fairforget.store.store import ResultStore

log = logging.getLogger(__name__)


@dataclass
class GcReport:
    """What `gc` removed (or, in a dry run, would remove) and what it kept."""

    unreferenced: list[EntryInfo] = field(default_factory=list)
    kept_referenced: int = 0
    kept_recent: list[EntryInfo] = field(default_factory=list)
    stale_temp_files: list[Path] = field(default_factory=list)
    stale_refs: list[Path] = field(default_factory=list)
    corrupt: list[EntryInfo] = field(default_factory=list)
    orphan_artifacts: list[Path] = field(default_factory=list)
    deleted: bool = False

    @property
    def bytes_freed(self) -> int:
        return sum(info.size_bytes + info.artifacts_bytes for info in self.unreferenced)


def collect_garbage(
    store: ResultStore,
    results_dirs: Iterable[str | Path],
    delete: bool = False,
    min_age_s: float = 3600.0,
) -> GcReport:
    """Find (and with `delete`, remove) entries no current result references.

    An entry is referenced if a result JSON under one of `results_dirs` names its key under
    `{"cache": {"key": ...}}`, or a `record_use` referrer still exists and names it. Entries younger
    than `min_age_s` are kept (a running job writes its entry before its result file). Only valid
    entries under `root/entries/` with their files folders, files folders no entry names, stale
    temporary files and stale ref records are removed: never model directories, results, corrupt
    entries (listed in the report) or `corrupt/`.
    """
    referenced = referenced_keys(results_dirs, skip=[store.root])
    report = GcReport(deleted=delete)
    now = time.time()
    infos = store.list_entries()
    # Writers publish files folders before their entry: leave young unnamed folders (and temp files) alone.
    settle_s = max(min_age_s, 3600.0)
    named = {info.artifacts_dir for info in infos if info.artifacts_dir is not None}
    corrupt_keys = {info.key for info in infos if not info.valid}
    report.orphan_artifacts = [
        folder
        for folder in store.artifact_folders()
        if folder not in named and folder.name[:64] not in corrupt_keys and now - folder.stat().st_mtime > settle_s
    ]
    for info in infos:
        if not info.valid:
            report.corrupt.append(info)  # evidence: `verify --repair` moves it aside, gc never deletes it
            continue
        live_refs = []
        for ref, referrer in store.recorded_referrers(info.key):
            if info.key in _keys_named_by(referrer):
                live_refs.append(ref)
            else:
                report.stale_refs.append(ref)
        if info.key in referenced or live_refs:
            report.kept_referenced += 1
            continue
        created = info.created_unix if info.created_unix is not None else info.path.stat().st_mtime
        if now - created < min_age_s:
            report.kept_recent.append(info)
            continue
        report.unreferenced.append(info)
    report.stale_temp_files = [p for p in store.temp_files() if now - p.stat().st_mtime > settle_s]
    if delete:
        for info in report.unreferenced:
            info.path.unlink(missing_ok=True)  # the entry first: no entry may name a missing folder
            if info.artifacts_dir is not None:
                shutil.rmtree(info.artifacts_dir, ignore_errors=True)
        for path in [*report.stale_refs, *report.stale_temp_files, *report.orphan_artifacts]:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
    return report


def _collect_cache_keys(obj: Any, found: set[str]) -> None:
    """Every `{"cache": {"key": k}}` anywhere in a JSON object (a result may use several entries)."""
    if isinstance(obj, dict):
        cache = obj.get("cache")
        if isinstance(cache, dict) and isinstance(cache.get("key"), str):
            found.add(cache["key"])
        for value in obj.values():
            _collect_cache_keys(value, found)
    elif isinstance(obj, list):
        for value in obj:
            _collect_cache_keys(value, found)


def _keys_named_by(path: Path) -> set[str]:
    found: set[str] = set()
    try:
        raw = path.read_bytes()
    except OSError:
        return found
    if b'"cache"' not in raw:
        return found
    try:
        _collect_cache_keys(json.loads(raw), found)
    except (UnicodeDecodeError, json.JSONDecodeError):
        log.warning("%s: unparsable JSON, so the store keys it names (if any) are unknown", path)
    return found


def referenced_keys(results_dirs: Iterable[str | Path], skip: Iterable[str | Path] = ()) -> set[str]:
    """Store keys named by result JSON files under the given dirs.

    Model directories (any folder holding `manifest.json`) and the `skip` folders (the store itself) are
    not read: they hold no results, and tokenizer files are large.
    """
    skipped = {Path(p).resolve() for p in skip}
    found: set[str] = set()
    for top in results_dirs:
        top = Path(top)
        if not top.is_dir():
            raise StoreError(f"results dir {top} not found (needed to know which store entries are in use)")
        for dirpath, dirnames, filenames in os.walk(top):
            here = Path(dirpath)
            if here.resolve() in skipped or "manifest.json" in filenames:
                dirnames[:] = []
                continue
            dirnames.sort()
            for name in sorted(filenames):
                if name.endswith(".json") and not name.startswith("."):
                    found |= _keys_named_by(here / name)
    return found
