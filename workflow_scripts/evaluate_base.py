"""Rule evaluate_base: score a base model once; write its scores and bias metrics."""

import _bootstrap  # noqa: F401  (puts ../src on sys.path)

from fairforget.evaluation.job import EvaluationJob
from fairforget.evaluation.stage import run_evaluation_job
from fairforget.workflow.logs import log_to
from fairforget.workflow.products import check_checkpoint

log_to(snakemake.log[0], attempt=snakemake.resources.get("attempt"))  # noqa: F821
job = EvaluationJob.from_json(snakemake.params.job)  # noqa: F821
check_checkpoint(job.model_dir, job.sidecar)
run_evaluation_job(job, threads=snakemake.threads)  # noqa: F821
