"""The runtime patch of the SLURM plugin (fairforget.workflow.slurm.patch): Ctrl-C cancels the whole run."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from fairforget.workflow.slurm.cluster import (
    SlurmCheckError,
)


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
