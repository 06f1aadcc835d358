"""Workflow-level caching on the micro config (slow: runs the whole workflow once in a throw-away copy).

(1) A second `snakemake` plans zero jobs. (2) Deleting every evaluation output (and the tables,
findings and figures made from them), keeping checkpoints and the store, then rerunning recomputes no
evaluation: each result says cache hit, no training or data job runs, and the store's entries and the
checkpoints are unchanged.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from fairforget.store import ResultStore
from workflow_helpers import planned_jobs, snakemake

pytestmark = pytest.mark.slow

CONFIG = ("--configfile", "config/micro.yaml")
EVALUATION_RULES = {
    "evaluate_base",
    "evaluate_checkpoint",
    "downstream_base",
    "downstream_finetuned",
    "evaluate_fused",
    "downstream_fused",
}
AGGREGATION_RULES = {"aggregate_table", "fusion_table", "findings", "figures", "report", "all"}


@pytest.fixture
def finished_workflow(micro_workflow: Path) -> Path:
    return micro_workflow


def _result_files(results: Path) -> list[Path]:
    # the fused checkpoints' results (rules/fusion.smk) live in R/fusion/alpha<weight>/, in R's own layout
    roots = [results, *sorted((results / "fusion").glob("alpha*"))]
    return sorted(
        path
        for root in roots
        for path in [*(root / "eval").rglob("metrics.json"), *(root / "downstream").rglob("seed*.json")]
    )


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def test_second_run_plans_zero_jobs(finished_workflow: Path) -> None:
    assert planned_jobs(finished_workflow, *CONFIG) == {}


def test_deleted_evaluations_are_served_from_the_store(finished_workflow: Path) -> None:
    results = finished_workflow / "results"
    store = ResultStore(results / "store")
    first_results = _result_files(results)
    assert first_results, "the workflow wrote no evaluation results"
    keys = {json.loads(path.read_text())["cache"]["key"] for path in first_results}
    assert {info.key for info in store.list_entries()} >= keys  # every result's entry is in the store
    store_before = _snapshot(store.root / "entries")
    models_before = _snapshot(results / "models")

    # Evaluation outputs and what is derived from them (else Snakemake, seeing the final outputs up to date,
    # would not regenerate the deleted intermediates at all).
    for root in [results, *sorted((results / "fusion").glob("alpha*"))]:
        shutil.rmtree(root / "eval")
        shutil.rmtree(root / "downstream")
    shutil.rmtree(results / "tables")
    shutil.rmtree(results / "figures")
    (results / "findings.md").unlink()
    planned = planned_jobs(finished_workflow, *CONFIG)
    assert planned, "deleting results planned nothing"
    assert set(planned) <= EVALUATION_RULES | AGGREGATION_RULES, f"unexpected jobs planned: {planned}"

    snakemake(finished_workflow, "--cores", "2", *CONFIG, timeout=1800)
    rerun_results = _result_files(results)
    assert [p.relative_to(results) for p in rerun_results] == [p.relative_to(results) for p in first_results]
    misses = [str(p.relative_to(results)) for p in rerun_results if not json.loads(p.read_text())["cache"]["hit"]]
    assert misses == [], f"evaluations recomputed instead of read from the store: {misses}"
    assert _snapshot(store.root / "entries") == store_before  # nothing rewritten
    assert _snapshot(results / "models") == models_before  # no checkpoint touched
    assert planned_jobs(finished_workflow, *CONFIG) == {}
