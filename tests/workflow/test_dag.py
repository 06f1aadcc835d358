"""The held-out and probe scoring of a base model is one job, reused by every checkpoint of that base, and one
downstream job covers every task of a checkpoint on CPU: seen in the DAG Snakemake builds for the toy study
(`snakemake --dag`, nothing runs).

(Issue #10's last bullet; it lives with the fault tests only because that is where its author could add files.)
"""

from __future__ import annotations

import re
from collections import defaultdict

import pytest
import yaml

from conftest import load_config
from fairforget.config import run_grid
from workflow_helpers import copy_workflow, planned_jobs, snakemake

pytestmark = pytest.mark.slow  # every test starts Snakemake (--dag, dry runs): not in the fast tier

NODE = re.compile(r'^\s*(\d+)\[label = "([^"]*)"', re.MULTILINE)
EDGE = re.compile(r"^\s*(\d+) -> (\d+)", re.MULTILINE)


@pytest.fixture(scope="module")
def dag(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[int, str], dict[int, set[int]]]:
    """(node -> rule label, node -> parent nodes) of the toy study's DAG."""
    workdir = copy_workflow(tmp_path_factory.mktemp("dag") / "wf")
    dot = snakemake(workdir, "--dag", "--configfile", "config/config.yaml").stdout
    labels = {int(n): label for n, label in NODE.findall(dot)}
    parents: dict[int, set[int]] = defaultdict(set)
    for parent, child in EDGE.findall(dot):
        parents[int(child)].add(int(parent))
    return labels, parents


def _rule(label: str) -> str:
    return label.split("\\n")[0]


def _ancestors(node: int, parents: dict[int, set[int]], rule: str, labels: dict[int, str]) -> set[int]:
    found, stack, seen = set(), [node], set()
    while stack:
        for parent in parents[stack.pop()]:
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
                if _rule(labels[parent]) == rule:
                    found.add(parent)
    return found


def test_base_scoring_runs_once_per_base_and_feeds_all_its_checkpoints(dag) -> None:
    labels, parents = dag
    config = load_config("config.yaml")
    n_runs = len(run_grid(config))
    base_evals = [n for n, label in labels.items() if _rule(label) == "evaluate_base"]
    checkpoint_evals = [n for n, label in labels.items() if _rule(label) == "evaluate_checkpoint"]
    assert len(base_evals) == len(config["models"]) and len(checkpoint_evals) == n_runs

    children = defaultdict(list)
    for node in checkpoint_evals:
        (base_eval,) = [p for p in parents[node] if _rule(labels[p]) == "evaluate_base"]  # exactly one
        # ... and it scores the base model this checkpoint was fine-tuned from
        (tuned_from,) = _ancestors(node, parents, "build_base_model", labels)
        assert _ancestors(base_eval, parents, "build_base_model", labels) == {tuned_from}
        children[base_eval].append(node)
    runs_per_model = defaultdict(int)
    for run in run_grid(config):
        runs_per_model[run.model] += 1
    assert sorted(len(nodes) for nodes in children.values()) == sorted(runs_per_model.values())


def test_cpu_study_runs_one_downstream_job_per_checkpoint_for_all_its_tasks(dag) -> None:
    """On CPU (no model asks for GPUs) a downstream job's fixed start-up outweighs one task's work: one job per
    checkpoint writes every task's results (rules/inputs/downstream.smk), and that job is the model's evaluation job
    (base model, fine-tuned or fused checkpoint; rules/evaluate.smk)."""
    labels, parents = dag
    config = load_config("config.yaml")
    assert len(config["data"]["downstream"]["tasks"]) > 1  # else this checks nothing
    counts = defaultdict(int)
    for label in labels.values():
        counts[_rule(label)] += 1
    assert counts["downstream_finetuned"] == counts["downstream_fused"] == counts["downstream_base"] == 0
    assert counts["evaluate_checkpoint"] == len(run_grid(config))
    assert counts["evaluate_base"] == len(config["models"])
    n_tasks = len(config["data"]["downstream"]["tasks"])
    downstream_jobs = ("evaluate_base", "evaluate_checkpoint", "evaluate_fused")
    for node, label in labels.items():
        if _rule(label) in downstream_jobs:  # it reads every task's prepared data
            assert [_rule(labels[p]) for p in parents[node]].count("prepare_downstream") == n_tasks


def test_gpu_study_runs_one_downstream_job_per_checkpoint_and_task(tmp_path) -> None:
    """With GPUs each task is hours of work: one job per checkpoint x task, so the tasks run in parallel."""
    workdir = copy_workflow(tmp_path / "wf")
    config = load_config("config.yaml")
    for model_cfg in config["models"].values():
        model_cfg["gpus"] = 1
    (workdir / "config" / "gpu.yaml").write_text(yaml.safe_dump(config))
    planned = planned_jobs(workdir, "--configfile", "config/gpu.yaml")
    n_tasks = len(config["data"]["downstream"]["tasks"])
    assert planned["downstream_finetuned"] == len(run_grid(config)) * n_tasks
    assert planned["evaluate_checkpoint"] == len(run_grid(config))
    assert planned["downstream_base"] == len(config["models"]) * n_tasks


def test_every_toy_job_runs_on_one_thread_whatever_the_cores(tmp_path) -> None:
    """A job's thread count is capped at --cores, and on CPU 1 and 2 threads give scores that differ in the 7th
    digit: the toy study's numbers must not depend on --cores, so every job asks for one thread (docs/caching.md).
    Snakemake's dry run prints `threads:` only for jobs with more than one."""
    workdir = copy_workflow(tmp_path / "wf")
    printed = snakemake(workdir, "-n", "--cores", "4", "--configfile", "config/config.yaml").stdout
    blocks = re.split(r"^rule ", printed, flags=re.MULTILINE)[1:]
    rules = {block.split(":", 1)[0] for block in blocks}
    assert {"evaluate_base", "evaluate_checkpoint", "evaluate_fused", "finetune"} <= rules
    multi = sorted({block.split(":", 1)[0] for block in blocks if re.search(r"^\s+threads: \d+", block, re.M)})
    assert multi == []
