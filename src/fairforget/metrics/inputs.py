"""What the evaluation reads: which metrics apply, which score sets and data files they need, the records."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fairforget.errors import DataError
from fairforget.io import read_json, read_jsonl
from fairforget.metrics.base import (
    HELDOUT,
    METRICS,
    PAIR_SETS,
    SEAT,
    STEREOSET,
    STEREOSET_CANDIDATES,
    TRAJECTORY,
    EvaluationData,
    EvaluationSettings,
    pair_requirement,
)
from fairforget.metrics.seat import ROLES
from fairforget.paths import GENERAL_HELDOUT, PROBES, PROBES_STEREOSET, under

log = logging.getLogger(__name__)

PAIR_FIELDS = ("id", "stereo", "anti")
STEREOSET_FIELDS = ("id", "target", "context", *STEREOSET_CANDIDATES)


def active_metrics(settings: EvaluationSettings, kind: str, compares: bool) -> list[str]:
    """Configured metrics that apply: bias metrics always, comparison metrics only for checkpoints."""
    names = []
    for name in settings.metrics:
        metric = METRICS.get(name)
        if kind not in metric.kinds:
            log.info("metric %s is not defined for %s models; skipped", name, kind)
        elif metric.compares and not compares:
            continue
        else:
            names.append(name)
    return names


def requirements(settings: EvaluationSettings, metric_names: list[str]) -> set[str]:
    needs: set[str] = set()
    for name in metric_names:
        needs |= METRICS.get(name)().requires(settings)
    return needs


def data_files(
    needs: set[str],
    heldout: str | Path | None,
    probes: Mapping[str, str | Path],
    seat_dir: str | Path | None,
    settings: EvaluationSettings,
) -> dict[str, Path]:
    """The data files the requirements read, by role ("heldout", "planted", "stereoset", "seat:<test>")."""
    files: dict[str, Path] = {}

    def need(role: str, path: str | Path | None) -> None:
        if path is None:
            raise DataError(f"evaluation needs the {role} data file but none was given")
        files[role] = Path(path)

    if HELDOUT in needs:
        need(HELDOUT, heldout)
    for pair_set in PAIR_SETS:
        if pair_requirement(pair_set) in needs:
            need(pair_set, probes.get(pair_set))
    if STEREOSET in needs:
        need(STEREOSET, probes.get(STEREOSET))
    if SEAT in needs:
        for test in settings.seat_tests:
            need(f"seat:{test}", None if seat_dir is None else Path(seat_dir) / f"{test}.jsonl")
    return files


def evaluation_inputs(evaluation: dict[str, Any], results_dir: str, seat_dir: str) -> dict[str, Any]:
    """Paths the evaluation rules need for the configured metrics (any model kind), per `fairforget.paths`."""
    settings = EvaluationSettings.from_config(evaluation)
    needs = requirements(settings, list(settings.metrics))
    heldout = under(results_dir, GENERAL_HELDOUT) if HELDOUT in needs else None
    probes = {name: under(results_dir, PROBES, name=name) for name in PAIR_SETS if pair_requirement(name) in needs}
    if STEREOSET in needs:
        probes[STEREOSET] = under(results_dir, PROBES_STEREOSET)
    seat_files = [f"{seat_dir}/{test}.jsonl" for test in settings.seat_tests] if SEAT in needs else []
    return {
        "data": ([heldout] if heldout else []) + list(probes.values()) + seat_files,
        "heldout": heldout,
        "probes": probes,
        "seat_dir": seat_dir if SEAT in needs else None,
        "needs_trajectory": TRAJECTORY in needs,
    }


def load_data(files: Mapping[str, Path]) -> EvaluationData:
    data = EvaluationData()
    for role, path in files.items():
        if role == HELDOUT or role in PAIR_SETS or role == STEREOSET:
            _check_unique_ids(path)
        if role == HELDOUT:
            data.heldout = read_jsonl(path, required=("id", "text"))
        elif role in PAIR_SETS:
            data.pairs[role] = read_jsonl(path, required=PAIR_FIELDS)
        elif role == STEREOSET:
            data.stereoset = read_jsonl(path, required=STEREOSET_FIELDS)
        elif role.startswith("seat:"):
            test = read_json(path)
            for key in ROLES:
                if not isinstance(test.get(key), dict) or not test[key].get("examples"):
                    raise DataError(f"{path}: SEAT test needs '{key}' with a non-empty 'examples' list")
            data.seat[role.removeprefix("seat:")] = test
    return data


def _check_unique_ids(path: Path) -> None:
    # scores are stored and matched by id, so an id must name one record
    seen: dict[str, int] = {}
    for line_number, record in enumerate(read_jsonl(path, required=("id",)), start=1):
        key = str(record["id"])
        if key in seen:
            raise DataError(f"{path}: record {line_number} repeats id {key!r} of record {seen[key]}")
        seen[key] = line_number


def token_set_texts(data: EvaluationData, needs: set[str]) -> dict[str, tuple[list[str], list[str]]]:
    """Token-level score sets: name -> (ids, texts)."""
    sets: dict[str, tuple[list[str], list[str]]] = {}
    if HELDOUT in needs:
        sets[HELDOUT] = ([str(r["id"]) for r in data.heldout], [str(r["text"]) for r in data.heldout])
    for pair_set in PAIR_SETS:
        if pair_requirement(pair_set) in needs:
            records = data.pairs[pair_set]
            ids = [str(r["id"]) for r in records]
            sets[f"{pair_set}.stereo"] = (ids, [str(r["stereo"]) for r in records])
            sets[f"{pair_set}.anti"] = (ids, [str(r["anti"]) for r in records])
    return sets
