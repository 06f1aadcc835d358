"""Rules evaluate_base / evaluate_checkpoint / evaluate_fused: a base model's scores and bias metrics, or a
checkpoint's forgetting, selective forgetting, bias and trajectory statistics; on CPU studies then its downstream
tasks, as downstream_base / downstream_finetuned would run them (one job per checkpoint: rules/inputs/downstream.smk,
DOWNSTREAM_IN_EVALUATION_JOB)."""

import _bootstrap  # noqa: F401  (puts ../src on sys.path)

from fairforget.downstream.job import DownstreamJob
from fairforget.downstream.stage import run_downstream_job
from fairforget.evaluation.job import EvaluationJob
from fairforget.evaluation.stage import run_evaluation_job
from fairforget.workflow.logs import log_to
from fairforget.workflow.products import check_checkpoint

log_to(snakemake.log[0], attempt=snakemake.resources.get("attempt"))  # noqa: F821
job = EvaluationJob.from_json(snakemake.params.job)  # noqa: F821
check_checkpoint(job.model_dir, job.sidecar)
run_evaluation_job(job, threads=snakemake.threads)  # noqa: F821
if snakemake.params.downstream_job is not None:  # noqa: F821
    # one thread, as the downstream rules run it: the same results as a downstream job of its own
    run_downstream_job(DownstreamJob.from_json(snakemake.params.downstream_job), threads=1)  # noqa: F821
