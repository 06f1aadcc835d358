"""The runtime patch of snakemake-executor-plugin-slurm: a cancelled job's state as the plugin expects it."""

from __future__ import annotations

from typing import Any


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
