"""The paper rehearsal (config/rehearsal.yaml over config/paper.yaml, docs/paper-rehearsal.md) through Snakemake on
CPU, from a hub cache and a datasets cache built offline by tools/build_rehearsal_cache.py under a temporary
HF_HOME: the full DAG plans as `fairforget plan` counts it (every rule of paper.yaml's DAG), and one path of it
runs: hub resolution of both models, the Wikipedia-format corpus through prepare_debias, a packed bert-base
fine-tuning run at 512-token blocks, its evaluation and a GLUE fine-tuning of it.

Gated twice: `slow` (Snakemake) and FAIRFORGET_REHEARSAL=1, because one bert-base-sized run costs minutes of CPU
(about 25 CPU-minutes in all on 2 cores) and the cache is 1.1 GB.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest
from snakemake.utils import update_config, validate

from conftest import load_config
from fairforget.config.schema import SCHEMA
from fairforget.io import read_json
from fairforget.workflow.plan import plan_study
from workflow_helpers import REPO, copy_workflow, planned_jobs, snakemake

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.environ.get("FAIRFORGET_REHEARSAL") != "1", reason="the paper rehearsal runs with FAIRFORGET_REHEARSAL=1"
    ),
]

CONFIGS = ("--configfile", "config/paper.yaml", "config/rehearsal.yaml")
RUN = "bert-base-uncased/cda/none/1pct/seed0"


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    import subprocess
    import sys

    root = tmp_path_factory.mktemp("rehearsal")
    home = root / "hf"
    subprocess.run([sys.executable, str(REPO / "tools" / "build_rehearsal_cache.py"), str(home)], check=True)
    env = {"HF_HOME": str(home), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    # the jobs' datasets cache is the built one, not the test session's (conftest points that elsewhere)
    env["HF_DATASETS_CACHE"] = str(home / "datasets")
    return copy_workflow(root / "wf"), env


def test_rehearsal_plans_every_rule_of_the_paper_dag(
    rehearsal: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    workdir, env = rehearsal
    for name, value in env.items():  # the Snakefile checks the hub corpus when it is parsed
        monkeypatch.setenv(name, value)
    merged = copy.deepcopy(load_config("paper.yaml"))
    update_config(merged, load_config("rehearsal.yaml"))
    validate(merged, str(SCHEMA), set_default=True)
    planned = {row.rule: row.jobs for row in plan_study(merged, REPO)[0] if row.rule != "total"}
    paper = copy.deepcopy(load_config("paper.yaml"))
    validate(paper, str(SCHEMA), set_default=True)
    assert set(planned) == {row.rule for row in plan_study(paper, REPO)[0] if row.rule != "total"}
    assert planned_jobs(workdir, *CONFIGS) == {rule: jobs for rule, jobs in planned.items() if jobs}


def test_rehearsal_path_runs_through_hub_models_and_wikipedia(rehearsal: tuple[Path, dict[str, str]]) -> None:
    workdir, env = rehearsal
    targets = [
        f"results/rehearsal/eval/finetuned/{RUN}/metrics.json",
        f"results/rehearsal/downstream/finetuned/{RUN}/stsb/seed0.json",
        "results/rehearsal/models/base/llama-3.2-1b.sha256",
    ]
    snakemake(workdir, *targets, *CONFIGS, "--cores", "2", "--resources", "mem_mb=8000", timeout=5400, env=env)
    results = workdir / "results" / "rehearsal"
    meta = read_json(results / "data" / "debias" / "meta.json")
    assert meta["n_source"] > 0
    summary = read_json(results / "training" / RUN / "train_summary.json")
    assert summary["packing"]["block_size"] == 512 and summary["steps"] == 2
    for model in ("bert-base-uncased", "llama-3.2-1b"):
        manifest = json.loads((results / "models" / "base" / model / "manifest.json").read_text())
        assert manifest["source"]["hub_id"] in ("bert-base-uncased", "meta-llama/Llama-3.2-1B")
    assert (results / "eval" / "finetuned" / RUN / "metrics.json").is_file()
