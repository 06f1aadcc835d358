"""Runtime patches of snakemake-executor-plugin-slurm: a cancelled job's state as the plugin expects it, and Ctrl-C
cancelling every job of the run."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from fairforget.workflow.slurm.cluster import SlurmCheckError, run_command

log = logging.getLogger(__name__)


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


def patch_cancel_by_run(executor_class: Any, run: Callable[[Sequence[str]], str] = run_command) -> bool:
    """Make Ctrl-C cancel every SLURM job of the run, also those being polled at that moment.

    On Ctrl-C Snakemake cancels the executor's `active_jobs`; its status loop (snakemake-interface-executor-plugins
    9, `RemoteExecutor._wait_for_jobs`) empties that list while it polls `sacct` and refills it afterwards, so a
    Ctrl-C during a poll cancels nothing and the jobs run on (seen on the CI cluster: a running finetune job
    survived its driver). The plugin names every job of one run after the run's ID (`SLURM run ID: <uuid>`), so
    after the plugin's own cancellation `scancel --name <run ID>` catches the rest. Returns False (and changes
    nothing) when the executor has no such method or ID attribute, e.g. another plugin version."""
    original = getattr(executor_class, "cancel_jobs", None)
    if original is None or getattr(original, "fairforget_by_run", False):
        return original is not None

    def cancel_jobs(self: Any, active_jobs: Any) -> None:
        try:
            original(self, active_jobs)
        finally:
            run_id = getattr(self, "run_uuid", None)
            if run_id:
                try:
                    run(("scancel", "--name", run_id))
                except SlurmCheckError as err:
                    log.warning("cancelling the jobs of SLURM run %s: %s", run_id, err)

    cancel_jobs.fairforget_by_run = True  # type: ignore[attr-defined]
    executor_class.cancel_jobs = cancel_jobs
    return True
