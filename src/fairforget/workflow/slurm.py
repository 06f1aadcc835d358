"""SLURM jobs that can never start, caught before and during a run (docs/slurm.md, "Pre-flight check").

- `cluster()` reads the nodes (`sinfo -N`) and partitions (`scontrol show partition -o`); the parsers take the
  commands' text, so they are tested on captured output.
- `check_requests` compares what each job or group job will ask for (CPUs, memory, GPUs, time, partition) with
  the partition's nodes and limits and names, per request that no node can take, the rule, the request and the
  largest node of the partition. The Snakefile's `onstart` runs it under the SLURM executor before anything is
  submitted (`preflight`).
- `PendingWatch` polls `squeue` during the run and reports jobs pending for a reason that will not clear by
  itself (`PartitionConfig`, `BadConstraints`, per-job QOS/association limits); such jobs are cancelled after a
  grace period so the run ends with an error naming them instead of waiting forever.
- `group_cpus` sizes the profile's `cores:` (the CPUs of one group job) to the partition's smallest node.
"""

from __future__ import annotations

import logging
import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from math import inf
from typing import Any

log = logging.getLogger(__name__)

SINFO = ("sinfo", "-N", "-h", "-o", "%N|%P|%c|%m|%G|%f|%t")
SCONTROL_PARTITIONS = ("scontrol", "show", "partition", "-o")
SQUEUE = ("squeue", "--me", "-h", "-t", "PENDING", "-o", "%i|%T|%r|%k|%Z")
# Pending reasons that do not clear while the job and the cluster's configuration stay as they are.
NEVER_CLEARS = re.compile(
    r"^(PartitionConfig|PartitionNodeLimit|PartitionTimeLimit|BadConstraints|InvalidAccount|InvalidQOS"
    r"|AccountNotAllowed|QOSNotAllowed|\w*PerJob\w*|\w*MinNode\w*)$"
)
# Reasons that may clear (other jobs finish, nodes come back) but are worth a warning when they persist.
MAY_NOT_CLEAR = re.compile(r"^(ReqNodeNotAvail.*|AssocMax\w*|AssocGrp\w*|QOSMax\w*|QOSGrp\w*|\w*Limit)$")
IGNORED_GRES = {"", "(null)"}


class SlurmCheckError(RuntimeError):
    """A job that no node of its partition can ever run; the message names rule, request and largest node."""


@dataclass(frozen=True)
class Node:
    name: str
    partitions: tuple[str, ...]
    cpus: int
    mem_mb: int
    gpus: int
    features: tuple[str, ...]
    state: str

    def describe(self) -> str:
        gpus = f", {self.gpus} GPUs" if self.gpus else ""
        return f"{self.name} ({self.cpus} CPUs, {self.mem_mb} MB{gpus})"


@dataclass(frozen=True)
class Partition:
    name: str
    default: bool = False
    state: str = "UP"
    max_time_min: float = inf
    max_cpus_per_node: float = inf
    max_mem_per_node_mb: float = inf


@dataclass
class Cluster:
    nodes: list[Node]
    partitions: dict[str, Partition]

    def default_partition(self) -> str | None:
        return next((name for name, p in self.partitions.items() if p.default), None)

    def nodes_of(self, partition: str) -> list[Node]:
        return [node for node in self.nodes if partition in node.partitions]


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


# ------------------------------------------------------------------------------------------------- parsing


def slurm_minutes(text: str) -> float:
    """A SLURM time limit in minutes: UNLIMITED/INFINITE, MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS."""
    text = text.strip()
    if text.upper() in ("UNLIMITED", "INFINITE", "NONE", ""):
        return inf
    days = 0
    if "-" in text:
        day_text, text = text.split("-", 1)
        days = int(day_text)
        fields = [int(x) for x in text.split(":")]
        hours, minutes, seconds = (fields + [0, 0, 0])[:3]
    else:
        fields = [int(x) for x in text.split(":")]
        if len(fields) == 1:
            hours, minutes, seconds = 0, fields[0], 0
        elif len(fields) == 2:
            hours, minutes, seconds = 0, fields[0], fields[1]
        else:
            hours, minutes, seconds = fields[:3]
    return days * 1440 + hours * 60 + minutes + seconds / 60


def gres_gpus(gres: str) -> int:
    """GPUs in a GRES string: `gpu:a100:4(S:0-1)`, `gpu:2`, `gpu:fake:2,craynetwork:1` -> 4, 2, 2."""
    total = 0
    for item in re.sub(r"\([^)]*\)", "", gres or "").split(","):
        parts = item.strip().split(":")
        if parts[0] != "gpu":
            continue
        count = parts[-1] if len(parts) > 1 else "1"
        total += int(count) if count.isdigit() else 1
    return total


def parse_sinfo(text: str) -> list[Node]:
    """Nodes from `sinfo -N -h -o "%N|%P|%c|%m|%G|%f|%t"` (one line per node and partition; merged)."""
    merged: dict[str, Node] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("|")
        if len(fields) != 7:
            raise SlurmCheckError(f"sinfo output line {number}: expected 7 '|'-separated fields: {line!r}")
        name, partition, cpus, mem, gres, features, state = (f.strip() for f in fields)
        partition = partition.rstrip("*")
        node = merged.get(name)
        if node is not None:
            if partition not in node.partitions:
                merged[name] = Node(**{**node.__dict__, "partitions": (*node.partitions, partition)})
            continue
        merged[name] = Node(
            name=name,
            partitions=(partition,),
            cpus=int(cpus.rstrip("+")),
            mem_mb=int(mem.rstrip("+")),
            gpus=gres_gpus("" if gres in IGNORED_GRES else gres),
            features=tuple(f for f in features.split(",") if f and f != "(null)"),
            state=state,
        )
    return list(merged.values())


def _limit(value: str | None, parse: Callable[[str], float] = float) -> float:
    if value is None or value.upper() in ("UNLIMITED", "INFINITE", "NONE"):
        return inf
    return parse(value)


def parse_partitions(text: str) -> dict[str, Partition]:
    """Partitions from `scontrol show partition -o` (one `Key=Value ...` line per partition)."""
    partitions: dict[str, Partition] = {}
    for line in text.splitlines():
        fields = dict(item.split("=", 1) for item in line.split() if "=" in item)
        name = fields.get("PartitionName")
        if not name:
            continue
        partitions[name] = Partition(
            name=name,
            default=fields.get("Default", "NO").upper() == "YES",
            state=fields.get("State", "UP"),
            max_time_min=_limit(fields.get("MaxTime"), slurm_minutes),
            max_cpus_per_node=_limit(fields.get("MaxCPUsPerNode")),
            max_mem_per_node_mb=_limit(fields.get("MaxMemPerNode")),
        )
    return partitions


@dataclass(frozen=True)
class PendingJob:
    job_id: str
    reason: str
    comment: str
    workdir: str


def parse_squeue(text: str) -> list[PendingJob]:
    """Pending jobs from `squeue --me -h -t PENDING -o "%i|%T|%r|%k|%Z"`."""
    jobs = []
    for line in text.splitlines():
        fields = [f.strip() for f in line.split("|")]
        if len(fields) == 5 and fields[1] == "PENDING":
            jobs.append(PendingJob(job_id=fields[0], reason=fields[2], comment=fields[3], workdir=fields[4]))
    return jobs


# ------------------------------------------------------------------------------------------------ checking


def _run(command: Sequence[str]) -> str:
    try:
        done = subprocess.run(list(command), capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError) as err:
        raise SlurmCheckError(f"`{' '.join(command)}` failed: {err}") from err
    if done.returncode != 0:
        raise SlurmCheckError(f"`{' '.join(command)}` failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


def cluster(run: Callable[[Sequence[str]], str] = _run) -> Cluster:
    """The cluster as `sinfo` and `scontrol` describe it now."""
    return Cluster(nodes=parse_sinfo(run(SINFO)), partitions=parse_partitions(run(SCONTROL_PARTITIONS)))


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


def group_cpus(partition: str | None, run: Callable[[Sequence[str]], str] = _run, fallback: int = 2) -> int:
    """CPUs of one group job: the smallest node of `partition` (the default one when None), so a group job
    fits on any of its nodes; `fallback` when sinfo cannot answer (e.g. planning away from the cluster)."""
    try:
        state = cluster(run)
    except SlurmCheckError:
        return fallback
    nodes = state.nodes_of(partition or state.default_partition() or "")
    return min((node.cpus for node in nodes), default=fallback)


# ------------------------------------------------------------------------ requests of Snakemake's jobs


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


def preflight(workflow: Any, run: Callable[[Sequence[str]], str] = _run) -> str:
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


# ------------------------------------------------------------------------------------ during the run


def normalised_status(status: str) -> str:
    """`CANCELLED by 0` -> `CANCELLED`: sacct appends who cancelled a job to its state."""
    return status.split(" by ", 1)[0].strip()


def patch_status_query(plugin_module: Any) -> bool:
    """Make snakemake-executor-plugin-slurm see cancelled jobs as failed.

    The plugin (2.8) reads each job's state from `sacct --parsable2 -o JobIdRaw,State`, where a cancelled job's
    state is `CANCELLED by <uid>`; it compares that with `CANCELLED`, finds no match and keeps polling the job
    forever (the same bug as Snakemake-Profiles/slurm#22). Wrapping its status query to drop the suffix makes a
    `scancel`ed job (by the user or by PendingWatch) fail in Snakemake, so the run ends. Returns False (and
    changes nothing) when the plugin has no such function, e.g. another version.
    """
    original = getattr(plugin_module, "query_job_status", None)
    if original is None or getattr(original, "fairforget_normalised", False):
        return original is not None

    async def query_job_status(*args: Any, **kwargs: Any) -> Any:
        statuses, duration = await original(*args, **kwargs)
        if statuses is not None:
            statuses = {job: normalised_status(status) for job, status in statuses.items()}
        return statuses, duration

    query_job_status.fairforget_normalised = True  # type: ignore[attr-defined]
    plugin_module.query_job_status = query_job_status
    return True


@dataclass
class PendingWatch:
    """Polls squeue for this working directory's pending jobs; reports (and cancels after `grace_s`) those whose
    reason never clears, warns once about reasons that may not clear. Runs as a daemon thread."""

    workdir: str
    report: Callable[[str], None]
    interval_s: float = 30.0
    grace_s: float = 60.0
    cancel: bool = True
    run: Callable[[Sequence[str]], str] = _run
    # the comments (`rule_<name>[_wildcards_<w>]`) of the jobs cancelled: the driver does not resubmit them
    never_start: set[str] = field(default_factory=set)
    first_seen: dict[str, float] = field(default_factory=dict)
    warned: set[str] = field(default_factory=set)
    cancelled: set[str] = field(default_factory=set)

    def poll(self, now: float | None = None) -> list[str]:
        """One look at the queue; returns the messages it reported."""
        now = time.monotonic() if now is None else now
        try:
            pending = [job for job in parse_squeue(self.run(SQUEUE)) if job.workdir == self.workdir]
        except SlurmCheckError as err:
            return [] if "squeue" in str(err) else [str(err)]
        messages = []
        for job in pending:
            comment = job.comment if job.comment not in IGNORED_GRES else "no comment"
            what = f"SLURM job {job.job_id} ({comment})"
            if NEVER_CLEARS.match(job.reason) and job.job_id not in self.cancelled:
                since = self.first_seen.setdefault(job.job_id, now)
                if now - since < self.grace_s:
                    continue
                action = (
                    "cancelled it (scancel) and it is not resubmitted, so the run fails instead of waiting forever"
                    if self.cancel
                    else ("it will never start; cancel it with scancel")
                )
                messages.append(
                    f"{what} is pending with reason {job.reason}, which does not clear by itself: {action}. "
                    "Fix the request or partition (docs/slurm.md, 'Jobs that never start')."
                )
                if self.cancel:
                    self.never_start.add(job.comment)
                    self.run(("scancel", job.job_id))
                self.cancelled.add(job.job_id)
            elif MAY_NOT_CLEAR.match(job.reason) and job.job_id not in self.warned:
                self.warned.add(job.job_id)
                messages.append(f"{what} is pending with reason {job.reason}; it starts only when that clears")
        for message in messages:
            self.report(message)
        return messages

    def start(self) -> threading.Thread:
        def loop() -> None:
            while True:
                time.sleep(self.interval_s)
                try:
                    self.poll()
                except Exception as err:  # a monitoring failure must never stop the run
                    log.warning("pending-job watch: %s", err)

        thread = threading.Thread(target=loop, name="fairforget-pending-watch", daemon=True)
        thread.start()
        return thread


def slurm_comment(job: Any, wildcards: Callable[[Any], str]) -> str:
    """The `--comment` the SLURM plugin gives a job's submission (`rule_<name>` or `rule_<name>_wildcards_<w>`,
    `wildcards` being the plugin's `get_job_wildcards`); a group job's name is its group."""
    wildcard_str = wildcards(job)
    return f"rule_{job.name}" if not wildcard_str else f"rule_{job.name}_wildcards_{wildcard_str}"


def no_resubmit_after_cancel(
    job_classes: Iterable[Any], never_start: set[str], wildcards: Callable[[Any], str], report: Callable[[str], None]
) -> None:
    """Give no restarts (the profile's `retries`) to a job, or a group job, that the PendingWatch cancelled for a
    reason that never clears: the same request would pend, be cancelled and fail again (Snakemake's job classes,
    `snakemake.jobs.Job` and `GroupJob`, in the driver process)."""
    reported: set[str] = set()
    for job_class in job_classes:
        original = job_class.restart_times

        def restart_times(job: Any, original: Any = original) -> int:
            comment = slurm_comment(job, wildcards)
            group = getattr(job, "group", None)  # a member of a group job was submitted as the group
            in_group = group and any(c == f"rule_{group}" or c.startswith(f"rule_{group}_") for c in never_start)
            if comment in never_start or in_group:
                if comment not in reported:
                    reported.add(comment)
                    report(f"fairforget: {comment} is not resubmitted: SLURM cannot start it as requested")
                return 0
            return original.fget(job)

        job_class.restart_times = property(restart_times)


def watch_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """PendingWatch options from FAIRFORGET_SLURM_PENDING_* variables (docs/slurm.md)."""
    return {
        "interval_s": float(env.get("FAIRFORGET_SLURM_PENDING_POLL_S", "30")),
        "grace_s": float(env.get("FAIRFORGET_SLURM_PENDING_GRACE_S", "60")),
        "cancel": env.get("FAIRFORGET_SLURM_PENDING_CANCEL", "1") != "0",
    }
