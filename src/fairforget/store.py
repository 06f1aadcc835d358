"""Content-addressed result store (minimal version; hardened in the caching issue).

Entries live at `root/<key[:2]>/<key>.json`, keyed by (checkpoint hash, evaluation kind, settings hash, seed).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fairforget.hashing import canonical_json_hash
from fairforget.io import read_json, write_json


class ResultStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def key(self, checkpoint_hash: str, kind: str, settings: dict[str, Any], seed: int | None = None) -> str:
        return canonical_json_hash(
            {"checkpoint_hash": checkpoint_hash, "kind": kind, "settings": canonical_json_hash(settings), "seed": seed}
        )

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get_or_compute(self, key: str, compute: Callable[[], dict[str, Any]]) -> tuple[dict[str, Any], bool]:
        path = self.path(key)
        if path.is_file():
            return read_json(path)["result"], True
        result = compute()
        write_json(path, {"key": key, "result": result})
        return result, False
