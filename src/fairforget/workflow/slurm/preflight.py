"""The pre-flight check: what each job or group job that will run asks SLURM for, against the nodes and limits of
its partition (the Snakefile's `onstart`, under the SLURM executor, before anything is submitted)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from math import inf
from typing import Any

from fairforget.workflow.slurm.cluster import Cluster, Node, Partition, SlurmCheckError, cluster, gres_gpus, run_command


@dataclass(frozen=True)
class Request:
    """What one job or group job asks SLURM for."""

    what: str  # "rule finetune (model=..., ...)" or "group prep (rules a, b)"
    cpus: int
    mem_mb: int = 0
    gpus: int = 0
    runtime_min: float = 0
    partition: str | None = None
    constraint: str | None = None
    cpus_from: str = ""  # what set the CPU count when it is not the rule's threads (the profile's variable)

    def describe(self) -> str:
        parts = [f"{self.cpus} CPUs" + (f" ({self.cpus_from})" if self.cpus_from else ""), f"{self.mem_mb} MB"]
        if self.gpus:
            parts.append(f"{self.gpus} GPUs")
        if self.runtime_min:
            parts.append(f"{self.runtime_min:g} min")
        if self.constraint:
            parts.append(f"constraint {self.constraint}")
        return ", ".join(parts)


def _fits(request: Request, node: Node, partition: Partition) -> bool:
    cpus = min(node.cpus, partition.max_cpus_per_node)
    mem = min(node.mem_mb, partition.max_mem_per_node_mb)
    features = set(node.features)
    wanted = set(re.split(r"[&,|]", request.constraint)) if request.constraint else set()
    return request.cpus <= cpus and request.mem_mb <= mem and request.gpus <= node.gpus and wanted <= features


def check_requests(requests: Iterable[Request], state: Cluster) -> list[str]:
    """One message per request that can never start on its partition (empty list: all can)."""
    problems = []
    for request in requests:
        name = request.partition or state.default_partition()
        partition = state.partitions.get(name or "")
        if partition is None:
            known = ", ".join(sorted(state.partitions)) or "none"
            problems.append(f"{request.what}: partition {name!r} does not exist (partitions: {known})")
            continue
        nodes = state.nodes_of(partition.name)
        if not nodes:
            problems.append(f"{request.what}: partition {partition.name} has no nodes")
            continue
        if request.runtime_min > partition.max_time_min:
            problems.append(
                f"{request.what} asks for {request.runtime_min:g} min, more than partition {partition.name}'s "
                f"time limit of {partition.max_time_min:g} min"
            )
        if not any(_fits(request, node, partition) for node in nodes):
            largest = max(nodes, key=lambda n: (n.gpus, n.cpus, n.mem_mb))
            limits = ""
            if partition.max_cpus_per_node < inf or partition.max_mem_per_node_mb < inf:
                limits = (
                    f"; the partition allows at most {partition.max_cpus_per_node:g} CPUs and "
                    f"{partition.max_mem_per_node_mb:g} MB per node"
                )
            problems.append(
                f"{request.what} asks for {request.describe()}; no node of partition {partition.name} can take "
                f"it, the largest is {largest.describe()}{limits}"
            )
    return problems


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def job_request(job: Any) -> Request:
    """What snakemake-executor-plugin-slurm submits for a job or group job (its own CPU logic)."""
    from snakemake_executor_plugin_slurm.partitions import get_job_cpu_requirement

    resources = job.resources
    cpus, per = get_job_cpu_requirement(job)
    gpus = _int(resources.get("gpu", 0)) or gres_gpus(str(resources.get("gres", "") or ""))
    cpus_from = ""
    if per == "gpu":
        cpus_from = f"{cpus} per GPU: FAIRFORGET_SLURM_CPUS_PER_GPU"
        cpus *= max(gpus, 1)
    elif job.is_group():
        cpus_from = "the profile's cores: FAIRFORGET_SLURM_GROUP_CPUS"
    if job.is_group():
        rules = sorted({sub.rule.name for sub in job.jobs})
        what = f"group job {job.groupid} (rules {', '.join(rules)})"
    else:
        wildcards = ", ".join(f"{k}={v}" for k, v in (getattr(job, "wildcards_dict", None) or {}).items())
        what = f"rule {job.rule.name}" + (f" ({wildcards})" if wildcards else "")
    runtime = resources.get("runtime", 0)
    return Request(
        what=what,
        cpus=max(cpus, 1),
        mem_mb=_int(resources.get("mem_mb", 0)),
        gpus=gpus,
        runtime_min=float(runtime) if isinstance(runtime, int | float) else 0.0,
        partition=resources.get("slurm_partition") or None,
        constraint=resources.get("constraint") or None,
        cpus_from=cpus_from,
    )


def jobs_or_groups_to_run(dag: Any) -> Iterator[Any]:
    """Each job that will run, or its group job. Snakemake's `dag.get_jobs_or_groups()` looks up the group of every
    job of the DAG, also of the finished ones, which have none: a KeyError (e.g. `KeyError: aggregate_table` on a
    rerun after one product was deleted)."""
    groups = getattr(dag, "_group", {})
    seen: set[int] = set()
    for job in dag.jobs:
        if not dag.needrun(job):
            continue
        unit = groups.get(job, job) if job.group is not None else job
        if id(unit) not in seen:
            seen.add(id(unit))
            yield unit


def preflight(workflow: Any, run: Callable[[Sequence[str]], str] = run_command) -> str:
    """The Snakefile's `onstart` under the SLURM executor: raise SlurmCheckError naming every job or group job
    that no node could take, before anything is submitted; return the one line that says all fit. Distinct
    requests are checked once."""
    requests: dict[tuple[Any, ...], Request] = {}
    for job in jobs_or_groups_to_run(workflow.dag):
        request = job_request(job)
        key = (
            request.what.split(" (")[0],
            request.cpus,
            request.mem_mb,
            request.gpus,
            request.runtime_min,
            request.partition,
            request.constraint,
        )
        requests.setdefault(key, request)
    problems = check_requests(requests.values(), cluster(run))
    if problems:
        raise SlurmCheckError(
            "SLURM pre-flight check: these jobs could never start, nothing was submitted:\n  "
            + "\n  ".join(problems)
            + "\nLower the request (threads, models.<name>.mem_mb/gpus/runtime, the profile's cores: for group "
            "jobs) or choose another partition (docs/slurm.md, 'Pre-flight check')."
        )
    return f"fairforget: SLURM pre-flight check passed: {len(requests)} distinct request(s) fit their partitions"
