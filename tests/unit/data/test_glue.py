"""GLUE: every shipped task's labels match its declared label set; subsets are seeded and recorded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fairforget.data.glue import TASKS, prepare_downstream, read_task, task_files
from fairforget.data.resources import resources_dir
from fairforget.hashing import sha256_file

SHIPPED = ["sst2", "cola", "rte", "stsb", "wnli"]
EXPECTED_SIZES = {
    "sst2": (67349, 872),
    "cola": (8551, 1043),
    "rte": (2490, 277),
    "stsb": (5749, 1500),
    "wnli": (635, 71),
}


@pytest.mark.parametrize("task", SHIPPED)
def test_shipped_labels_match_declared_label_set(task: str) -> None:
    spec = TASKS[task]
    files = task_files(task, resources_dir() / "glue")
    for split, expected_n in zip(("train", "dev"), EXPECTED_SIZES[task], strict=True):
        records = read_task(task, split, files[split])
        assert len(records) == expected_n
        labels = [r["label"] for r in records]
        if spec.is_regression:
            assert spec.num_labels == 1
            assert all(isinstance(x, float) and 0.0 <= x <= 5.0 for x in labels)
            assert min(labels) == 0.0 and max(labels) == 5.0
        else:
            assert set(labels) == set(range(spec.num_labels)) == set(range(len(spec.label_names)))
            assert len(spec.verbaliser or ()) == spec.num_labels
        assert all(r["text_a"] for r in records)
        assert all((r["text_b"] is None) == (task in ("sst2", "cola")) for r in records)
        assert len({r["id"] for r in records}) == len(records)


def test_label_names_follow_the_files() -> None:
    # RTE's text labels and SST-2's 0/1 map to the documented names
    rte = read_task("rte", "dev", resources_dir() / "glue" / "RTE" / "dev.tsv")
    raw = (resources_dir() / "glue" / "RTE" / "dev.tsv").read_text(encoding="utf-8").splitlines()[1].split("\t")[3]
    assert TASKS["rte"].label_names[rte[0]["label"]] == raw
    assert TASKS["cola"].metrics == ("mcc",) and TASKS["stsb"].metrics == ("pearson", "spearman")
    assert TASKS["mrpc"].metrics == ("f1", "accuracy")


def test_prepare_downstream_is_seeded_and_recorded(tmp_path: Path) -> None:
    files = task_files("rte", resources_dir() / "glue")
    settings = {"train_max_examples": 50, "dev_max_examples": None}

    def run(out: Path, seed: int) -> dict:
        return prepare_downstream(
            "rte",
            files["train"],
            files["dev"],
            out / "train.jsonl",
            out / "dev.jsonl",
            out / "meta.json",
            settings,
            seed,
        )

    meta = run(tmp_path / "a", 0)
    run(tmp_path / "b", 0)
    run(tmp_path / "c", 1)
    assert (tmp_path / "a" / "train.jsonl").read_bytes() == (tmp_path / "b" / "train.jsonl").read_bytes()
    assert (tmp_path / "a" / "train.jsonl").read_bytes() != (tmp_path / "c" / "train.jsonl").read_bytes()
    assert meta["n_train"] == 50 and meta["n_dev"] == 277 and meta["n_train_available"] == 2490
    assert meta["source_sha256"]["train"] == sha256_file(files["train"])
    saved = json.loads((tmp_path / "a" / "meta.json").read_text())
    assert {"task", "metric", "num_labels", "label_names", "is_regression", "n_train", "n_dev", "seed"} <= set(saved)
    lines = (tmp_path / "a" / "train.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    assert set(first) == {"id", "text_a", "text_b", "label"}
    # the id names the source line, and that line holds the same sentence
    line_no = int(first["id"].rsplit("-", 1)[1])
    assert files["train"].read_text(encoding="utf-8").splitlines()[line_no - 1].split("\t")[1] == first["text_a"]
