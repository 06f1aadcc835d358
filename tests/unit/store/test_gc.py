"""What the store's garbage collection keeps (fairforget.store.gc.referenced_keys): every store key that a result
JSON under the results dirs names, at any depth, and nothing from model dirs or the store itself. (Removal with
the entries' files: tests/unit/store/test_artifacts.py; the CLI: tests/unit/cli/test_cache.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fairforget.errors import StoreError
from fairforget.store.gc import referenced_keys


def write(path: Path, obj: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj), encoding="utf-8")


def test_keys_named_anywhere_in_result_jsons_are_kept(tmp_path: Path) -> None:
    results = tmp_path / "results"
    write(results / "eval" / "metrics.json", {"cache": {"key": "a", "hit": True}})
    write(results / "downstream" / "tasks.json", {"tasks": [{"sst2": {"cache": {"key": "b"}}}, {"cache": {}}]})
    write(results / "table.json", {"rows": 3})  # names no key
    (results / "broken.json").write_text('{"cache": {"key": ', encoding="utf-8")  # unparsable: warned, skipped
    write(results / "models" / "m" / "manifest.json", {"cache": {"key": "in-a-model-dir"}})
    write(results / "models" / "m" / "config.json", {"cache": {"key": "in-a-model-dir"}})
    write(results / "store" / "x.json", {"cache": {"key": "in-the-store"}})
    write(results / ".hidden.json", {"cache": {"key": "hidden"}})
    assert referenced_keys([results], skip=[results / "store"]) == {"a", "b"}


def test_a_missing_results_dir_is_an_error_not_an_empty_set(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="results dir .*absent not found"):
        referenced_keys([tmp_path / "absent"])  # an empty set would let gc delete every entry
