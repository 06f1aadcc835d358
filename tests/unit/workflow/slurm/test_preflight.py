"""Parsing sinfo/scontrol/squeue output and the pre-flight decision (fairforget.workflow.slurm), on captured text:
the CI cluster's (.ci/slurm_ci.sh, SLURM 22.05) and a heterogeneous GPU cluster's."""

from __future__ import annotations

from collections.abc import Sequence
from math import inf

import pytest

from fairforget.workflow.slurm.cluster import (
    SINFO,
    Cluster,
    SlurmCheckError,
    gres_gpus,
    group_cpus,
    parse_partitions,
    parse_sinfo,
    slurm_minutes,
)
from fairforget.workflow.slurm.preflight import Request, check_requests
from fairforget.workflow.slurm.watch import SQUEUE, PendingWatch, no_resubmit_after_cancel, parse_squeue

# captured from the CI cluster: `sinfo -N -h -o "%N|%P|%c|%m|%G|%f|%t"` and `scontrol show partition -o`
CI_SINFO = "localhost|ci*|2|19284|gpu:fake:2|(null)|idle\n"
CI_PARTITIONS = (
    "PartitionName=ci AllowGroups=ALL AllowAccounts=ALL AllowQos=ALL AllocNodes=ALL Default=YES QoS=N/A "
    "DefaultTime=NONE DisableRootJobs=NO ExclusiveUser=NO GraceTime=0 Hidden=NO MaxNodes=UNLIMITED "
    "MaxTime=UNLIMITED MinNodes=0 LLN=NO MaxCPUsPerNode=UNLIMITED Nodes=localhost PriorityJobFactor=1 "
    "PriorityTier=1 RootOnly=NO ReqResv=NO OverSubscribe=NO OverTimeLimit=NONE PreemptMode=OFF State=UP "
    "TotalCPUs=2 TotalNodes=1 SelectTypeParameters=NONE JobDefaults=(null) DefMemPerNode=UNLIMITED "
    "MaxMemPerNode=UNLIMITED TRES=cpu=2,mem=19284M,node=1,billing=2,gres/gpu=2\n"
)
# a site with a CPU and a GPU partition; node g01 is in both, sinfo lists it once per partition
SITE_SINFO = """c01|cpu*|48|192000|(null)|skylake,ib|mix
c02|cpu*|64|256000+|(null)|icelake,ib|idle
g01|cpu*|32|512000|gpu:a100:4(S:0-1)|icelake|mix
g01|gpu|32|512000|gpu:a100:4(S:0-1)|icelake|mix
g02|gpu|16|128000|gpu:v100:2,craynetwork:4|cascade|drain
"""
SITE_PARTITIONS = (
    "PartitionName=cpu Default=YES MaxTime=2-00:00:00 MaxCPUsPerNode=UNLIMITED MaxMemPerNode=UNLIMITED State=UP"
    " Nodes=c[01-02],g01\n"
    "PartitionName=gpu Default=NO MaxTime=12:00:00 MaxCPUsPerNode=24 MaxMemPerNode=256000 State=UP Nodes=g[01-02]\n"
)


@pytest.fixture
def site() -> Cluster:
    return Cluster(nodes=parse_sinfo(SITE_SINFO), partitions=parse_partitions(SITE_PARTITIONS))


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("UNLIMITED", inf),
        ("60", 60),
        ("30:00", 30),
        ("2:00:00", 120),
        ("1-00:00:00", 1440),
        ("2-12", 3600),
        ("1-02:30", 1590),
        ("00:90:30", 90.5),
    ],
)
def test_slurm_time_limits(text: str, minutes: float) -> None:
    assert slurm_minutes(text) == minutes


def test_gres_counts_gpus_only() -> None:
    assert gres_gpus("gpu:a100:4(S:0-1)") == 4
    assert gres_gpus("gpu:v100:2,craynetwork:4") == 2
    assert gres_gpus("gpu:2") == 2 and gres_gpus("gpu") == 1 and gres_gpus("") == 0


def test_ci_cluster_text() -> None:
    (node,) = parse_sinfo(CI_SINFO)
    assert (node.name, node.partitions, node.cpus, node.mem_mb, node.gpus) == ("localhost", ("ci",), 2, 19284, 2)
    assert node.features == ()
    partition = parse_partitions(CI_PARTITIONS)["ci"]
    assert partition.default and partition.max_time_min == inf and partition.max_cpus_per_node == inf


def test_site_cluster_text_merges_partitions_of_a_node(site: Cluster) -> None:
    nodes = {node.name: node for node in site.nodes}
    assert nodes["g01"].partitions == ("cpu", "gpu") and nodes["g01"].gpus == 4
    assert nodes["c02"].mem_mb == 256000 and nodes["c01"].features == ("skylake", "ib")
    assert site.default_partition() == "cpu"
    assert site.partitions["gpu"].max_time_min == 720 and site.partitions["gpu"].max_mem_per_node_mb == 256000
    with pytest.raises(SlurmCheckError, match="line 1"):
        parse_sinfo("c01|cpu|48\n")


def test_the_issue_case_a_group_asking_4_cpus_on_a_2_cpu_node() -> None:
    ci = Cluster(nodes=parse_sinfo(CI_SINFO), partitions=parse_partitions(CI_PARTITIONS))
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


def test_group_cpus_is_the_smallest_node_of_the_partition() -> None:
    def run(command: Sequence[str]) -> str:
        return SITE_SINFO if tuple(command) == SINFO else SITE_PARTITIONS

    assert group_cpus("gpu", run) == 16 and group_cpus(None, run) == 32

    def no_cluster(command: Sequence[str]) -> str:
        raise SlurmCheckError("sinfo: command not found")

    assert group_cpus(None, no_cluster) == 2


# captured: `squeue --me -h -t PENDING -o "%i|%T|%r|%k|%Z"` with one impossible job and one waiting its turn
SQUEUE_TEXT = """27|PENDING|PartitionConfig|rule_prep_wildcards_|/work/study
28|PENDING|Resources|rule_finetune_wildcards_bert|/work/study
29|PENDING|AssocMaxJobsLimit|rule_evaluate_base_wildcards_bert|/work/study
30|PENDING|PartitionConfig|(null)|/elsewhere
"""


def test_squeue_text() -> None:
    jobs = parse_squeue(SQUEUE_TEXT)
    assert [(j.job_id, j.reason) for j in jobs][:2] == [("27", "PartitionConfig"), ("28", "Resources")]
    assert jobs[3].workdir == "/elsewhere"


def test_pending_watch_reports_then_cancels_after_the_grace_period() -> None:
    calls: list[tuple[str, ...]] = []

    def run(command: Sequence[str]) -> str:
        calls.append(tuple(command))
        return SQUEUE_TEXT if tuple(command) == SQUEUE else ""

    reports: list[str] = []
    watch = PendingWatch(workdir="/work/study", report=reports.append, grace_s=60, run=run)
    first = watch.poll(now=0.0)
    # the limit that may clear is mentioned once at once; the impossible job waits out the grace period
    assert len(first) == 1 and "29" in first[0] and "AssocMaxJobsLimit" in first[0]
    assert watch.poll(now=30.0) == []
    (stuck,) = watch.poll(now=61.0)
    assert "SLURM job 27 (rule_prep_wildcards_) is pending with reason PartitionConfig" in stuck
    assert ("scancel", "27") in calls and ("scancel", "30") not in calls  # another directory's job is not ours
    assert watch.poll(now=200.0) == [] and len(reports) == 2


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


def test_a_job_cancelled_for_never_starting_is_not_resubmitted() -> None:
    """The profile's retries would resubmit the cancelled job (three times pending, cancelled, failing): the
    watch remembers its comment and the driver gives it, or its group, no restart; other jobs keep theirs."""

    def run(command: Sequence[str]) -> str:
        return SQUEUE_TEXT if tuple(command) == SQUEUE else ""

    watch = PendingWatch(workdir="/work/study", report=lambda message: None, grace_s=0, run=run)
    (stuck,) = [m for m in watch.poll(now=0.0) if "PartitionConfig" in m]
    assert "cancelled it (scancel) and it is not resubmitted" in stuck
    assert watch.never_start == {"rule_prep_wildcards_"}

    class Job:  # what snakemake.jobs.Job offers: name, group, and the restart_times property
        def __init__(self, name: str, group: str | None = None) -> None:
            self.name, self.group = name, group

        @property
        def restart_times(self) -> int:
            return 2

    reports: list[str] = []
    no_resubmit_after_cancel([Job], watch.never_start, lambda job: "", reports.append)
    assert Job("finetune").restart_times == 2 and Job("prepare_probes").restart_times == 2
    assert Job("prepare_probes", group="prep").restart_times == 0  # a member of the cancelled group job
    assert Job("prepare_general", group="prep").restart_times == 0
    assert Job("prepare_probes", group="prepare").restart_times == 2  # another group, whose name starts alike
    assert reports == [
        f"fairforget: rule_{name} is not resubmitted: SLURM cannot start it as requested"
        for name in ("prepare_probes", "prepare_general")
    ]


def test_ctrl_c_also_cancels_the_jobs_of_the_run_that_a_status_poll_holds() -> None:
    """Snakemake's status loop empties the executor's active jobs while it polls, so its Ctrl-C may cancel none:
    after the plugin's own cancellation, `scancel --name <run ID>` cancels every job of the run; once, also when
    the plugin's cancellation fails; a failing scancel is only logged (the driver is stopping anyway)."""
    from fairforget.workflow.slurm.patch import patch_cancel_by_run

    commands: list[tuple[str, ...]] = []

    class Executor:  # what the SLURM plugin's Executor offers: cancel_jobs(active_jobs) and run_uuid
        run_uuid = "5e1c-run"

        def __init__(self) -> None:
            self.cancelled: list[list[str]] = []

        def cancel_jobs(self, active_jobs: list[str]) -> None:
            self.cancelled.append(active_jobs)
            if "broken" in active_jobs:
                raise RuntimeError("scancel failed")

    def run(command: Sequence[str]) -> str:
        commands.append(tuple(command))
        return ""

    assert patch_cancel_by_run(Executor, run=run) and patch_cancel_by_run(Executor, run=run)  # patched once
    executor = Executor()
    executor.cancel_jobs([])  # a Ctrl-C during a status poll: the plugin sees no active job
    assert executor.cancelled == [[]] and commands == [("scancel", "--name", "5e1c-run")]
    with pytest.raises(RuntimeError, match="scancel failed"):
        executor.cancel_jobs(["broken"])
    assert len(commands) == 2

    def failing(command: Sequence[str]) -> str:
        raise SlurmCheckError("`scancel` failed (1): slurmctld not responding")

    class Unreachable:
        run_uuid = "5e1c-run"

        def cancel_jobs(self, active_jobs: list[str]) -> None:
            pass

    patch_cancel_by_run(Unreachable, run=failing)
    Unreachable().cancel_jobs([])  # no error: the driver is stopping anyway
    assert not patch_cancel_by_run(type("OtherVersion", (), {}), run=run)
