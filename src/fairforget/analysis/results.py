"""Reading the workflow's result files; where they are is `fairforget.paths` (the layout's single source)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from fairforget.errors import DataError
from fairforget.io import read_json
from fairforget.paths import PathInfo, classify, manifest_for, run_id

__all__ = ["PathInfo", "classify", "load_result", "manifest_for", "run_id"]


def load_result(path: str | Path) -> dict[str, Any]:
    """Read a Result JSON and check its shape; metric values must be finite numbers or null."""
    path = Path(path)
    record = read_json(path)
    if not isinstance(record, dict):
        raise DataError(f"{path}: expected a JSON object")
    metrics = record.get("metrics")
    if not isinstance(metrics, dict):
        raise DataError(f"{path}: missing 'metrics' object")
    for name, entry in metrics.items():
        if not isinstance(entry, dict) or "value" not in entry:
            raise DataError(f"{path}: metric '{name}' must be an object with a 'value' key")
        value = entry["value"]
        if value is not None and not (isinstance(value, (int, float)) and not isinstance(value, bool)):
            raise DataError(f"{path}: metric '{name}' value must be a number or null, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            # NaN/inf would silently poison means; the producer must write null with a reason instead.
            raise DataError(f"{path}: metric '{name}' value is not finite ({value})")
    return record
