"""Watching pending jobs (fairforget.workflow.slurm.watch) on captured squeue text: report, cancel, no resubmission."""

from __future__ import annotations

from collections.abc import Sequence

from fairforget.workflow.slurm.watch import SQUEUE, PendingWatch, no_resubmit_after_cancel, parse_squeue
from slurm_captures import SQUEUE_TEXT


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
