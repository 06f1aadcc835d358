"""The pre-flight decision (fairforget.workflow.slurm.preflight) against captured cluster text: the CI cluster's
(.ci/slurm_ci.sh, SLURM 22.05) and a heterogeneous GPU cluster's."""

from __future__ import annotations

import pytest

from fairforget.workflow.slurm.cluster import (
    Cluster,
)
from fairforget.workflow.slurm.preflight import Request, check_requests
from slurm_captures import ci_cluster, site_cluster


@pytest.fixture
def site() -> Cluster:
    return site_cluster()


def test_the_issue_case_a_group_asking_4_cpus_on_a_2_cpu_node() -> None:
    ci = ci_cluster()
    (problem,) = check_requests([Request("group job prep (rules a, b)", cpus=4, mem_mb=8000)], ci)
    assert problem.startswith("group job prep (rules a, b) asks for 4 CPUs, 8000 MB")
    assert "the largest is localhost (2 CPUs, 19284 MB, 2 GPUs)" in problem
    assert check_requests([Request("group job prep", cpus=2, mem_mb=8000)], ci) == []


def test_requests_against_a_heterogeneous_site(site: Cluster) -> None:
    fits = [
        Request("rule evaluate_base", cpus=2, mem_mb=4000, runtime_min=60),  # default partition
        Request("rule finetune", cpus=16, mem_mb=64000, gpus=2, runtime_min=480, partition="gpu"),
        Request("rule x", cpus=8, mem_mb=1000, partition="cpu", constraint="icelake"),
    ]
    assert check_requests(fits, site) == []
    problems = check_requests(
        [
            Request("rule finetune", cpus=32, mem_mb=64000, gpus=1, partition="gpu"),  # MaxCPUsPerNode=24
            Request("rule finetune (big)", cpus=8, mem_mb=64000, gpus=8, partition="gpu"),
            Request("rule long", cpus=1, mem_mb=1000, runtime_min=900, partition="gpu"),
            Request("rule y", cpus=1, mem_mb=1000, partition="gpu", constraint="skylake"),
            Request("rule z", cpus=1, mem_mb=1000, partition="debug"),
        ],
        site,
    )
    assert len(problems) == 5
    assert "the largest is g01 (32 CPUs, 512000 MB, 4 GPUs); the partition allows at most 24 CPUs" in problems[0]
    assert problems[1].startswith("rule finetune (big) asks for 8 CPUs, 64000 MB, 8 GPUs")
    assert "900 min, more than partition gpu's time limit of 720 min" in problems[2]
    assert "constraint skylake" in problems[3]
    assert "partition 'debug' does not exist (partitions: cpu, gpu)" in problems[4]


def test_the_preflight_skips_finished_jobs_and_finds_each_group_once() -> None:
    """Snakemake's dag.get_jobs_or_groups() raises KeyError for a finished job of a group (its group is only built
    for jobs that run): after a complete run with one product deleted, the pre-flight must not look them up."""
    from dataclasses import dataclass
    from types import SimpleNamespace

    from fairforget.workflow.slurm.preflight import jobs_or_groups_to_run

    @dataclass(eq=False)  # hashable by identity, as Snakemake's jobs
    class Job:
        name: str
        group: str | None = None

    table = Job("aggregate_table", "analysis")  # finished: in no group
    findings, figures, finetune = Job("findings", "analysis"), Job("figures", "analysis"), Job("finetune")
    group = Job("group analysis")
    dag = SimpleNamespace(
        jobs=[table, finetune, findings, figures],
        needrun=lambda job: job is not table,
        _group={findings: group, figures: group},
    )
    assert [unit.name for unit in jobs_or_groups_to_run(dag)] == ["finetune", "group analysis"]


def test_a_cpu_count_set_by_the_profile_names_its_variable() -> None:
    request = Request(
        "rule finetune", cpus=8, mem_mb=4000, gpus=1, cpus_from="8 per GPU: FAIRFORGET_SLURM_CPUS_PER_GPU"
    )
    assert request.describe().startswith("8 CPUs (8 per GPU: FAIRFORGET_SLURM_CPUS_PER_GPU), 4000 MB, 1 GPUs")
