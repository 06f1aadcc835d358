"""What the rules downstream_base, downstream_finetuned and downstream_fused share: the job
(rules/inputs/downstream.smk, `fairforget.downstream.job.DownstreamJob`) handed to
`fairforget.downstream.stage.run_downstream_job` (one task, or every task of the checkpoint)."""

from typing import Any

import _bootstrap  # noqa: F401  (puts ../src on sys.path)

from fairforget.downstream.job import DownstreamJob
from fairforget.downstream.stage import run_downstream_job
from fairforget.workflow.logs import log_to
from fairforget.workflow.products import check_checkpoint


def run(snakemake: Any) -> None:
    """Rules downstream_base / downstream_finetuned / downstream_fused."""
    log_to(snakemake.log[0], attempt=snakemake.resources.get("attempt"))
    job = DownstreamJob.from_json(snakemake.params.job)
    check_checkpoint(job.model_dir, job.sidecar)
    run_downstream_job(job, threads=snakemake.threads)
