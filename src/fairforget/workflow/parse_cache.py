"""Parse-time work kept between `snakemake` calls (the config check, the evaluation's input list)."""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fairforget.code_identity import code_files
from fairforget.config.checks import check_config, check_environment
from fairforget.hashing import canonical_json, canonical_json_hash
from fairforget.io import atomic_write_text
from fairforget.registry import load_plugins

# The fairforget package: every module of it enters the cache key.
PACKAGE_DIR = Path(__file__).resolve().parent.parent


class ParseCache:
    """Parse-time work that depends only on the config and on this package's code, kept between `snakemake` calls.

    `check_config` and the evaluation's input list import every objective, remedy and metric, hence torch,
    peft and scipy: seconds that every `snakemake` call (a dry run, a no-op rerun, each cluster job, which
    parses the Snakefile again) would pay anew. Entries live in `cache_dir/<key>/`, where the key hashes the
    Python version, the config and the bytes of every module of this package and every plug-in file; a plug-in
    given as a dotted module name may live anywhere on sys.path, so such a config is never cached. A config that
    fails its check gets no entry, so it fails every time.
    """

    def __init__(self, config: dict[str, Any], base_dir: str | Path, cache_dir: str | Path) -> None:
        self.config = config
        self.base_dir = Path(base_dir)
        key = _code_and_config_key(config, self.base_dir)
        self.folder = Path(cache_dir) / key if key else None

    def check_config(self) -> bool:
        """load_plugins + check_config unless this config passed with this code before; True if it ran.
        `check_environment` (installed packages, files) runs every time."""
        stamp = self.folder / "config-ok" if self.folder else None
        if stamp is not None and stamp.is_file():
            check_environment(self.config)
            return False
        load_plugins(self.config.get("plugins", []), base_dir=self.base_dir)
        check_config(self.config)
        if stamp is not None:
            _write_atomic(stamp, "")
        return True

    def value(self, name: str, args: Any, compute: Callable[[], Any]) -> Any:
        """compute()'s JSON-able result (as JSON gives it back), cached by name, args (JSON-able) and the key."""
        entry = self.folder / f"{name}-{canonical_json_hash(args)}.json" if self.folder else None
        if entry is not None and entry.is_file():
            try:
                return json.loads(entry.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                pass  # unreadable (e.g. cut short by a full disk): compute it again
        load_plugins(self.config.get("plugins", []), base_dir=self.base_dir)  # compute() may use their registries
        # Round-tripped through JSON (key order kept) so that a miss returns exactly what a later hit returns:
        # these values become rule params, which Snakemake compares by value to decide on reruns.
        text = json.dumps(compute())
        if entry is not None:
            _write_atomic(entry, text)
        return json.loads(text)


def _code_and_config_key(config: dict[str, Any], base_dir: Path) -> str | None:
    plugin_files = []
    for spec in config.get("plugins", []):
        path = Path(spec) if Path(spec).is_absolute() else base_dir / spec
        if not spec.endswith(".py") or not path.is_file():
            return None  # a dotted name, or a missing file the real check reports by config key
        plugin_files.extend(code_files(path))  # with the helper modules it imports
    digest = hashlib.sha256(f"{sys.version}\n{canonical_json(config)}\n".encode())
    for path in sorted(PACKAGE_DIR.rglob("*.py")) + plugin_files:
        data = path.read_bytes()
        digest.update(f"{_name_in_key(path, base_dir)}\n{len(data)}\n".encode())
        digest.update(data)
    return digest.hexdigest()


def _name_in_key(path: Path, base_dir: Path) -> str:
    """A code file's name in the key: relative to the package (or, for a plug-in, to the workflow) where it lies
    inside, so that a study copied or moved to another folder, whose cached values name nothing absolute (paths
    relative to the working directory, code hashes), keeps its entries (a fresh copy's first `snakemake` call
    would otherwise pay the whole parse-time work again: about 4 s CPU on the micro study)."""
    for root in (PACKAGE_DIR, base_dir.resolve()):
        if path.resolve().is_relative_to(root):
            return path.resolve().relative_to(root).as_posix()
    return str(path)


def _write_atomic(path: Path, text: str) -> None:
    try:
        atomic_write_text(path, text)
    except OSError:
        pass  # a read-only working directory only costs the work again next time
