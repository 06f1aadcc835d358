"""GLUE tasks: readers for the shipped TSV files, the task registry and the prepared subsets.

Records follow docs/ARCHITECTURE.md: {"id", "text_a", "text_b", "label"}; ids are `{task}-{split}-{line:06d}`
with the 1-based line of the source TSV. Metric names are those of fairforget.metrics.glue.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fairforget.data.hub_benchmarks import glue_from_hub, hub_source
from fairforget.data.settings import get_int, seeded_subset
from fairforget.data.textfiles import read_tsv
from fairforget.errors import ConfigError, DataError
from fairforget.hashing import sha256_file
from fairforget.io import write_json, write_jsonl

log = logging.getLogger(__name__)

Record = dict[str, Any]


def _class_label(value: str, labels: Mapping[str, int], path: Path, line: int) -> int:
    if value not in labels:
        raise DataError(f"{path}:{line}: label {value!r} is not one of {', '.join(labels)}")
    return labels[value]


def _text(value: str, column: str, path: Path, line: int) -> str:
    text = value.strip()
    if not text:
        raise DataError(f"{path}:{line}: empty {column}")
    return text


def _records(
    task: str,
    split: str,
    path: Path,
    rows: list[tuple[int, list[str]]],
    extract: Callable[[list[str], int], tuple[str, str | None, int | float]],
) -> list[Record]:
    out = []
    for line, fields in rows:
        text_a, text_b, label = extract(fields, line)
        out.append({"id": f"{task}-{split}-{line:06d}", "text_a": text_a, "text_b": text_b, "label": label})
    return out


def read_sst2(path: Path, split: str) -> list[Record]:
    labels = {"0": 0, "1": 1}
    rows = read_tsv(path, 2, header=("sentence", "label"))
    return _records(
        "sst2",
        split,
        path,
        rows,
        lambda f, n: (_text(f[0], "sentence", path, n), None, _class_label(f[1], labels, path, n)),
    )


def read_cola(path: Path, split: str) -> list[Record]:
    # No header; columns: source, label, original label (blank when unchanged), sentence.
    labels = {"0": 0, "1": 1}
    rows = read_tsv(path, 4)
    return _records(
        "cola",
        split,
        path,
        rows,
        lambda f, n: (_text(f[3], "sentence", path, n), None, _class_label(f[1], labels, path, n)),
    )


def _pair_reader(task: str, labels: Mapping[str, int]) -> Callable[[Path, str], list[Record]]:
    def read(path: Path, split: str) -> list[Record]:
        rows = read_tsv(path, 4, header=("index", "sentence1", "sentence2", "label"))
        return _records(
            task,
            split,
            path,
            rows,
            lambda f, n: (
                _text(f[1], "sentence1", path, n),
                _text(f[2], "sentence2", path, n),
                _class_label(f[3], labels, path, n),
            ),
        )

    return read


STSB_HEADER = (
    "index",
    "genre",
    "filename",
    "year",
    "old_index",
    "source1",
    "source2",
    "sentence1",
    "sentence2",
    "score",
)


def read_stsb(path: Path, split: str) -> list[Record]:
    def extract(fields: list[str], line: int) -> tuple[str, str, float]:
        try:
            score = float(fields[9])
        except ValueError as err:
            raise DataError(f"{path}:{line}: score {fields[9]!r} is not a number") from err
        if not math.isfinite(score) or not 0.0 <= score <= 5.0:
            raise DataError(f"{path}:{line}: score {score} is outside [0, 5]")
        return _text(fields[7], "sentence1", path, line), _text(fields[8], "sentence2", path, line), score

    return _records("stsb", split, path, read_tsv(path, 10, header=STSB_HEADER), extract)


MRPC_HEADER = ("Quality", "#1 ID", "#2 ID", "#1 String", "#2 String")


def read_mrpc(path: Path, split: str) -> list[Record]:
    labels = {"0": 0, "1": 1}
    rows = read_tsv(path, 5, header=MRPC_HEADER)
    return _records(
        "mrpc",
        split,
        path,
        rows,
        lambda f, n: (
            _text(f[3], "#1 String", path, n),
            _text(f[4], "#2 String", path, n),
            _class_label(f[0], labels, path, n),
        ),
    )


@dataclass(frozen=True)
class GlueTask:
    """What the downstream stage needs to know about a task."""

    name: str
    folder: str  # folder under resources/data/glue
    metrics: tuple[str, ...]  # first = headline metric
    label_names: tuple[str, ...]  # index = label id; ("score",) for regression
    is_regression: bool
    reader: Callable[[Path, str], list[Record]]
    verbaliser: tuple[str, ...] | None  # one answer word per label, for zero-shot scoring; None for regression
    prompt: str  # zero-shot prompt; {text_a}/{text_b} are filled, the answer word follows

    @property
    def num_labels(self) -> int:
        return 1 if self.is_regression else len(self.label_names)


TASKS: dict[str, GlueTask] = {
    task.name: task
    for task in (
        GlueTask(
            "sst2",
            "SST-2",
            ("accuracy",),
            ("negative", "positive"),
            False,
            read_sst2,
            ("negative", "positive"),
            "Review: {text_a}\nSentiment:",
        ),
        GlueTask(
            "cola",
            "CoLA",
            ("mcc",),
            ("unacceptable", "acceptable"),
            False,
            read_cola,
            ("no", "yes"),
            "Sentence: {text_a}\nIs this sentence grammatical? Answer:",
        ),
        GlueTask(
            "rte",
            "RTE",
            ("accuracy",),
            ("entailment", "not_entailment"),
            False,
            _pair_reader("rte", {"entailment": 0, "not_entailment": 1}),
            ("true", "false"),
            "{text_a}\nQuestion: {text_b} True or False?\nAnswer:",
        ),
        GlueTask(
            "wnli",
            "WNLI",
            ("accuracy",),
            ("not_entailment", "entailment"),
            False,
            _pair_reader("wnli", {"0": 0, "1": 1}),
            ("false", "true"),
            "{text_a}\nQuestion: {text_b} True or False?\nAnswer:",
        ),
        GlueTask(
            "stsb",
            "STS-B",
            ("pearson", "spearman"),
            ("score",),
            True,
            read_stsb,
            None,
            "Sentence 1: {text_a}\nSentence 2: {text_b}\nSimilarity (0-5):",
        ),
        GlueTask(
            "mrpc",
            "MRPC",
            ("f1", "accuracy"),
            ("not_equivalent", "equivalent"),
            False,
            read_mrpc,
            ("no", "yes"),
            "Sentence 1: {text_a}\nSentence 2: {text_b}\nDo they mean the same thing? Answer:",
        ),
    )
}

MRPC_HELP = (
    "MRPC is not shipped (GLUE does not host it for legal reasons). Build train.tsv/dev.tsv as GLUE's "
    "download_glue_data.py does (format_mrpc): from Microsoft's msr_paraphrase_train.txt and "
    "msr_paraphrase_test.txt plus GLUE's dev_ids.tsv, split the train file into dev (the pairs listed in "
    "dev_ids.tsv) and train (the rest), each with the header 'Quality\\t#1 ID\\t#2 ID\\t#1 String\\t#2 String'; "
    "then put them in resources/data/glue/MRPC/ or point config key data.downstream.mrpc_dir at their folder."
)


def get_task(name: str) -> GlueTask:
    if name not in TASKS:
        raise ConfigError(f"config key 'data.downstream.tasks': unknown task {name!r}; allowed: {', '.join(TASKS)}")
    return TASKS[name]


def task_files(name: str, glue_dir: str | Path, mrpc_dir: str | Path | None = None) -> dict[str, Path]:
    """{"train": path, "dev": path} of a task; missing files raise DataError (with MRPC build instructions)."""
    task = get_task(name)
    folder = Path(mrpc_dir) if (name == "mrpc" and mrpc_dir) else Path(glue_dir) / task.folder
    files = {split: folder / f"{split}.tsv" for split in ("train", "dev")}
    missing = [str(p) for p in files.values() if not p.is_file()]
    if missing:
        hint = MRPC_HELP if name == "mrpc" else "the shipped GLUE files are incomplete; restore resources/data/glue"
        raise DataError(f"GLUE task {name!r}: missing {', '.join(missing)}. {hint}")
    return files


def read_task(name: str, split: str, path: str | Path) -> list[Record]:
    return get_task(name).reader(Path(path), split)


def read_hub_task(name: str, split: str, source: Mapping[str, Any]) -> list[Record]:
    """`read_task`'s records from the Hub copy of GLUE (`data.downstream.source`, fairforget.data.hub_benchmarks)."""
    task = get_task(name)
    return glue_from_hub(name, split, source, task.label_names, task.is_regression)


def prepare_downstream(
    task_name: str,
    train_tsv: str | Path,
    dev_tsv: str | Path,
    train_out: str | Path,
    dev_out: str | Path,
    meta_out: str | Path,
    settings: Mapping[str, Any],
    seed: int,
) -> dict[str, Any]:
    """Write seeded subsets of a task's train and dev files and meta.json (sizes, seed, source checksums)."""
    key = "data.downstream"
    task = get_task(task_name)
    caps = {
        "train": get_int(settings, "train_max_examples", key, default=None, minimum=1, optional=True),
        "dev": get_int(settings, "dev_max_examples", key, default=None, minimum=1, optional=True),
    }
    hub = hub_source(settings, "source", key)
    sizes: dict[str, int] = {}
    for split, source, out in (("train", train_tsv, train_out), ("dev", dev_tsv, dev_out)):
        records = read_task(task_name, split, source) if hub is None else read_hub_task(task_name, split, hub)
        chosen = seeded_subset(records, caps[split], seed, f"{task_name}-{split}")
        write_jsonl(out, chosen)
        sizes[f"n_{split}"], sizes[f"n_{split}_available"] = len(chosen), len(records)
    meta = {
        "task": task.name,
        "metric": task.metrics[0],
        "metrics": list(task.metrics),
        "num_labels": task.num_labels,
        "label_names": list(task.label_names),
        "is_regression": task.is_regression,
        **sizes,
        "seed": seed,
        "max_examples": caps,
        "verbaliser": list(task.verbaliser) if task.verbaliser else None,
        "prompt": task.prompt,
        **(
            {"source_sha256": {"train": sha256_file(train_tsv), "dev": sha256_file(dev_tsv)}}
            if hub is None
            else {"source_hub": dict(hub)}
        ),
    }
    write_json(meta_out, meta)
    log.info(
        "%s: %d/%d train, %d/%d dev examples",
        task_name,
        sizes["n_train"],
        sizes["n_train_available"],
        sizes["n_dev"],
        sizes["n_dev_available"],
    )
    return meta
