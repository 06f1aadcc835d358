"""Files kept with a result store entry (e.g. an evaluation's per-item scores), verified like the entry.

An entry's files live in `entries/<key[:2]>/<key>.<files hash[:16]>.files/`; the entry records the sha256 of
every file. The name holds the content hash, so concurrent writers with equal files publish the same folder
(the first rename wins, the others drop their copy), and a folder that does not match its name is corrupt.
The folder is published before the entry is written, so an entry never names a missing folder.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

from fairforget.errors import StoreError
from fairforget.hashing import canonical_json_hash, sha256_file

SUFFIX = ".files"
_NAME_RE = re.compile(r"^[0-9a-f]{64}\.[0-9a-f]{16}\.files$")


def hash_tree(directory: Path) -> dict[str, str]:
    """sha256 of every regular file under `directory`, by posix path relative to it."""
    if not directory.is_dir():
        raise StoreError(f"{directory}: expected a folder of files to store with the result")
    files = {}
    for path in sorted(directory.rglob("*")):
        if path.is_symlink():
            raise StoreError(f"{path}: symbolic links cannot be stored (store the file itself)")
        if path.is_file():
            files[path.relative_to(directory).as_posix()] = sha256_file(path)
    return files


def folder_name(key: str, files: dict[str, str]) -> str:
    return f"{key}.{canonical_json_hash(sorted(files.items()))[:16]}{SUFFIX}"


def is_folder_name(name: str) -> bool:
    return bool(_NAME_RE.match(name))


def problem_with(folder: Path, files: dict[str, str]) -> str | None:
    """Why `folder` does not hold exactly `files` (None if it does)."""
    if not folder.is_dir():
        return f"its files folder {folder.name} is missing"
    try:
        actual = hash_tree(folder)
    except (StoreError, OSError) as err:
        return f"its files folder cannot be read ({err})"
    if actual != files:
        changed = sorted(name for name in set(actual) | set(files) if actual.get(name) != files.get(name))
        return f"file(s) in {folder.name} do not match their hashes: {', '.join(changed[:5])}"
    return None


def _copy_durably(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    fd = os.open(target, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(
    source: Path, shard: Path, name: str, files: dict[str, str], set_aside: Callable[[Path, str], object]
) -> Path:
    """Copy `source` to `shard/name` via a temporary folder and one rename; return the published folder.

    `set_aside(folder, reason)` moves a damaged folder of the same name out of the way. Errors (ENOSPC ...)
    remove the temporary copy and propagate as OSError for the caller to word.
    """
    final = shard / name
    if final.is_dir() and problem_with(final, files) is None:
        return final  # a concurrent or earlier writer published the same files
    tmp = shard / f".{name}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        for relative in files:
            _copy_durably(source / relative, tmp / relative)
        copied = hash_tree(tmp)
        if copied != files:
            raise StoreError(f"{source}: files changed while being stored; not storing them")
        for _attempt in range(3):
            try:
                os.rename(tmp, final)
                return final
            except OSError as err:
                if err.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
            if problem_with(final, files) is None:
                shutil.rmtree(tmp, ignore_errors=True)
                return final
            set_aside(final, problem_with(final, files) or "damaged")
        raise StoreError(f"{final}: cannot publish the entry's files (the folder keeps reappearing damaged)")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def restore(folder: Path, destination: Path) -> None:
    """Replace `destination` with a copy of a stored files folder."""
    if destination.exists():
        shutil.rmtree(destination)
    shutil.copytree(folder, destination)


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else 0
