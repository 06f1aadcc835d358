"""Locating and reading the workflow's result files by the path contract in docs/ARCHITECTURE.md."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fairforget.errors import DataError
from fairforget.io import read_json

_RUN = r"(?P<model>[^/]+)/(?P<objective>[^/]+)/(?P<remedy>[^/]+)/(?P<size>full|[0-9]+)/seed(?P<seed>[0-9]+)"
_DSEED = r"(?P<task>[^/]+)/seed(?P<dseed>[0-9]+)\.json"

# kind -> pattern matched against the end of a posix path; group `root` is the results dir R.
PATTERNS: dict[str, re.Pattern[str]] = {
    "eval_finetuned": re.compile(rf"^(?:(?P<root>.*)/)?eval/finetuned/{_RUN}/metrics\.json$"),
    "eval_base": re.compile(r"^(?:(?P<root>.*)/)?eval/base/(?P<model>[^/]+)/metrics\.json$"),
    "downstream_finetuned": re.compile(rf"^(?:(?P<root>.*)/)?downstream/finetuned/{_RUN}/{_DSEED}$"),
    "downstream_base": re.compile(rf"^(?:(?P<root>.*)/)?downstream/base/(?P<model>[^/]+)/{_DSEED}$"),
    "trajectory": re.compile(rf"^(?:(?P<root>.*)/)?training/{_RUN}/trajectory\.parquet$"),
    "train_summary": re.compile(rf"^(?:(?P<root>.*)/)?training/{_RUN}/train_summary\.json$"),
    "finetuned_sidecar": re.compile(rf"^(?:(?P<root>.*)/)?models/finetuned/{_RUN}\.sha256$"),
    "finetuned_manifest": re.compile(rf"^(?:(?P<root>.*)/)?models/finetuned/{_RUN}/manifest\.json$"),
    "base_sidecar": re.compile(r"^(?:(?P<root>.*)/)?models/base/(?P<model>[^/]+)\.sha256$"),
    "base_manifest": re.compile(r"^(?:(?P<root>.*)/)?models/base/(?P<model>[^/]+)/manifest\.json$"),
    "downstream_meta": re.compile(r"^(?:(?P<root>.*)/)?data/downstream/(?P<task>[^/]+)/meta\.json$"),
}

RUN_KEYS = ("model", "objective", "remedy", "size", "seed")


@dataclass(frozen=True)
class PathInfo:
    kind: str
    root: Path
    fields: dict[str, str]

    @property
    def run_key(self) -> tuple[str, str, str, str, int] | None:
        if "objective" not in self.fields:
            return None
        f = self.fields
        return (f["model"], f["objective"], f["remedy"], f["size"], int(f["seed"]))

    @property
    def run_path(self) -> str | None:
        key = self.run_key
        return None if key is None else f"{key[0]}/{key[1]}/{key[2]}/{key[3]}/seed{key[4]}"


def classify(path: str | Path) -> PathInfo | None:
    """Which contract file `path` is (None if none)."""
    text = Path(path).as_posix()
    for kind, pattern in PATTERNS.items():
        match = pattern.match(text)
        if match:
            groups = match.groupdict()
            root = Path(groups.pop("root") or ".")
            return PathInfo(kind=kind, root=root, fields={k: v for k, v in groups.items() if v is not None})
    return None


def run_id(run_path: str) -> str:
    return run_path.replace("/", "__")


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


def manifest_for(info: PathInfo) -> Path:
    """The checkpoint (or base) manifest that a run-level (or base-level) file depends on."""
    if info.run_path is not None:
        return info.root / "models" / "finetuned" / info.run_path / "manifest.json"
    if "model" in info.fields:
        return info.root / "models" / "base" / info.fields["model"] / "manifest.json"
    raise DataError(f"{info.kind}: no model or run in the path, so no manifest")
