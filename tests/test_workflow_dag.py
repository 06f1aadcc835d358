"""The held-out and probe scoring of a base model is one job, reused by every checkpoint of that base: seen in
the DAG Snakemake builds for the toy study (`snakemake --dag`, nothing runs).

(Issue #10's last bullet; it lives with the fault tests only because that is where its author could add files.)
"""

from __future__ import annotations

import re
from collections import defaultdict

import pytest
from conftest import load_config

from fairforget.config import run_grid
from workflow_helpers import copy_workflow, snakemake

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
