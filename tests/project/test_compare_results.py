"""tools/compare_results.py: what counts as the same result and what as a difference."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("compare_results", REPO / "tools" / "compare_results.py")
assert spec is not None and spec.loader is not None
compare_results = importlib.util.module_from_spec(spec)
spec.loader.exec_module(compare_results)


def _write(root: Path, files: dict[str, object]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return root


def _sidecar(created: str, config: dict) -> dict:
    return {
        "rule": "findings",
        "created": created,
        "host": "h",
        "config": config,
        "config_hash": str(config),
        "code_version": {"commit": created},
        "inputs": [],
        "outputs": [],
        "lineage": {},
    }


def test_only_timestamps_and_schema_defaults_may_differ(tmp_path: Path):
    config = {"training": {"epochs": 2}}
    before = _write(
        tmp_path / "a",
        {
            "findings.md": "F1 supports\n",
            "findings.provenance.json": _sidecar("2026-01-01", config),
            "logs/findings/findings.log": "one\n",
        },
    )
    after = _write(
        tmp_path / "b",
        {
            "findings.md": "F1 supports\n",
            "findings.provenance.json": _sidecar("2026-02-02", {"training": {"epochs": 2, "warmup_ratio": 0.1}}),
            "logs/findings/findings.log": "two\n",
        },
    )
    differences, added, counts = compare_results.compare(before, after)
    assert differences == [] and added == ["training.warmup_ratio"]
    assert counts == {"bytes": 1, "provenance": 1}


def test_a_changed_result_or_config_value_is_a_difference(tmp_path: Path):
    before = _write(
        tmp_path / "a",
        {
            "eval/base/m/metrics.json": {"metrics": {"x": {"value": 1.0}}},
            "findings.provenance.json": _sidecar("t", {"training": {"epochs": 2}}),
            "extra.json": {},
        },
    )
    after = _write(
        tmp_path / "b",
        {
            "eval/base/m/metrics.json": {"metrics": {"x": {"value": 1.5}}},
            "findings.provenance.json": _sidecar("t", {"training": {"epochs": 3, "warmup_ratio": 0.5}}),
        },
    )
    differences, _, _ = compare_results.compare(before, after)
    assert "eval/base/m/metrics.json: bytes differ" in differences
    assert "extra.json: only in before" in differences
    assert any("config key training.epochs: 2 -> 3" in d for d in differences)
    assert any("training.warmup_ratio added with a non-default value" in d for d in differences)
