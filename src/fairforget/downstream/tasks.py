"""Reading and checking one prepared GLUE task folder: train.jsonl, dev.jsonl and meta.json."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fairforget.errors import ConfigError, DataError
from fairforget.hashing import sha256_file
from fairforget.io import read_json, read_jsonl
from fairforget.metrics.glue import canonical_metric, task_metric_names

TASK_FILES = ("train.jsonl", "dev.jsonl", "meta.json")
RECORD_FIELDS = ("id", "text_a", "text_b", "label")
META_FIELDS = ("task", "metric", "num_labels", "is_regression")


@dataclass(frozen=True)
class Example:
    id: str
    text_a: str
    text_b: str | None
    label: int | float


@dataclass(frozen=True)
class TaskData:
    name: str
    meta: dict[str, Any]
    train: list[Example]
    dev: list[Example]
    file_hashes: dict[str, str]  # file name -> sha256, part of the result-store key
    primary_metric: str
    metric_names: tuple[str, ...]

    @property
    def is_regression(self) -> bool:
        return bool(self.meta["is_regression"])

    @property
    def num_labels(self) -> int:
        return int(self.meta["num_labels"])


def _record_lines(path: Path) -> list[int]:
    """Line number of each non-blank line, so record k can be reported as file:line."""
    with open(path, "rb") as handle:
        return [number for number, raw in enumerate(handle, start=1) if raw.strip()]


def _read_examples(path: Path, num_labels: int, is_regression: bool) -> list[Example]:
    records = read_jsonl(path, required=RECORD_FIELDS)
    lines = _record_lines(path)
    examples = []
    for record, line in zip(records, lines, strict=True):
        where = f"{path}:{line}"
        if not isinstance(record["text_a"], str) or not record["text_a"]:
            raise DataError(f"{where}: 'text_a' must be a non-empty string")
        if record["text_b"] is not None and not isinstance(record["text_b"], str):
            raise DataError(f"{where}: 'text_b' must be a string or null")
        label = record["label"]
        if isinstance(label, bool) or not isinstance(label, int | float):
            raise DataError(f"{where}: 'label' must be a number, got {label!r}")
        if not is_regression:
            if float(label) != int(label) or not 0 <= int(label) < num_labels:
                raise DataError(f"{where}: label {label!r} is not a class index in [0, {num_labels})")
            label = int(label)
        examples.append(Example(str(record["id"]), record["text_a"], record["text_b"], label))
    return examples


def load_task(task_dir: str | Path, task: str) -> TaskData:
    """Load and check a task folder written by the data stage (formats in docs/ARCHITECTURE.md)."""
    task_dir = Path(task_dir)
    missing = [name for name in TASK_FILES if not (task_dir / name).is_file()]
    if missing:
        raise DataError(
            f"{task_dir}: downstream task '{task}' is missing {', '.join(missing)}; the data stage "
            f"(rule prepare_downstream) did not prepare it - is '{task}' in data.downstream.tasks and are its "
            "source files present under resources/data? (GLUE MRPC, for one, is not shipped with every copy)"
        )
    meta_path = task_dir / "meta.json"
    meta = read_json(meta_path)
    if not isinstance(meta, dict):
        raise DataError(f"{meta_path}: expected a JSON object")
    absent = [key for key in META_FIELDS if key not in meta]
    if absent:
        raise DataError(f"{meta_path}: missing key(s) {', '.join(absent)}")
    if meta["task"] != task:
        raise DataError(f"{meta_path}: describes task {meta['task']!r}, expected {task!r}")
    is_regression = bool(meta["is_regression"])
    num_labels = int(meta["num_labels"])
    if is_regression and num_labels != 1:
        raise DataError(f"{meta_path}: a regression task must have num_labels 1, got {num_labels}")
    if not is_regression and num_labels < 2:
        raise DataError(f"{meta_path}: a classification task needs num_labels >= 2, got {num_labels}")
    primary = canonical_metric(meta["metric"], str(meta_path))
    if primary == "f1" and num_labels != 2:
        raise DataError(f"{meta_path}: metric f1 is binary F1 and needs num_labels 2, got {num_labels}")
    listed = meta.get("metrics") or []
    if not isinstance(listed, list):
        raise DataError(f"{meta_path}: 'metrics' must be a list of metric names")
    listed = [canonical_metric(name, str(meta_path)) for name in listed]
    if "f1" in listed and num_labels != 2:
        raise DataError(f"{meta_path}: metric f1 is binary F1 and needs num_labels 2, got {num_labels}")
    try:
        metric_names = task_metric_names(task, primary, is_regression, listed)
    except ConfigError as err:
        raise DataError(f"{meta_path}: {err}") from err
    return TaskData(
        name=task,
        meta=meta,
        train=_read_examples(task_dir / "train.jsonl", num_labels, is_regression),
        dev=_read_examples(task_dir / "dev.jsonl", num_labels, is_regression),
        file_hashes={name: sha256_file(task_dir / name) for name in TASK_FILES},
        primary_metric=primary,
        metric_names=metric_names,
    )
