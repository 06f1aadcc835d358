"""During the run: jobs pending for a reason that never clears are reported, cancelled after a grace period and
not resubmitted by the profile's retries (docs/slurm.md, 'Jobs that never start')."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fairforget.workflow.slurm.cluster import IGNORED_GRES, SlurmCheckError, run_command

log = logging.getLogger(__name__)

SQUEUE = ("squeue", "--me", "-h", "-t", "PENDING", "-o", "%i|%T|%r|%k|%Z")
# Pending reasons that do not clear while the job and the cluster's configuration stay as they are.
NEVER_CLEARS = re.compile(
    r"^(PartitionConfig|PartitionNodeLimit|PartitionTimeLimit|BadConstraints|InvalidAccount|InvalidQOS"
    r"|AccountNotAllowed|QOSNotAllowed|\w*PerJob\w*|\w*MinNode\w*)$"
)
# Reasons that may clear (other jobs finish, nodes come back) but are worth a warning when they persist.
MAY_NOT_CLEAR = re.compile(r"^(ReqNodeNotAvail.*|AssocMax\w*|AssocGrp\w*|QOSMax\w*|QOSGrp\w*|\w*Limit)$")


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


@dataclass
class PendingWatch:
    """Polls squeue for this working directory's pending jobs; reports (and cancels after `grace_s`) those whose
    reason never clears, warns once about reasons that may not clear. Runs as a daemon thread."""

    workdir: str
    report: Callable[[str], None]
    interval_s: float = 30.0
    grace_s: float = 60.0
    cancel: bool = True
    run: Callable[[Sequence[str]], str] = run_command
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
