# Stage 5, downstream (GLUE) evaluation: one job per checkpoint (CPU studies; the base model's, fine-tuned or fused
# checkpoint's evaluation job, rules/evaluate.smk) or per checkpoint x task (GPU studies; DOWNSTREAM_JOB_PER_TASK in
# rules/inputs/downstream.smk), fine-tuning once per task and downstream seed
# inside the job (one result JSON per task and seed). One job per seed would triple the DAG (8,100 jobs on the
# paper grid, most of Snakemake's planning time) and the GPU jobs that each load the task data and the model anew.
# Base models are scored once (downstream_base), never once per debiasing run; the analysis takes tuned - base.
# Inputs are the checkpoint's .sha256 sidecar (content hash) with the directory as ancient(...), so a
# rewritten but identical checkpoint does not trigger a rerun; scores are cached in the result store per seed,
# so a job retried after a failure in its last seed recomputes nothing for the earlier ones.


include: "inputs/downstream.smk"


# On CPU studies evaluate_base and evaluate_checkpoint run the checkpoint's downstream tasks
# (DOWNSTREAM_IN_EVALUATION_JOB).
if not DOWNSTREAM_IN_EVALUATION_JOB:

    rule downstream_base:
        input:
            train=DOWNSTREAM_TRAIN,
            dev=DOWNSTREAM_DEV,
            meta=DOWNSTREAM_META,
            sidecar=BASE_SIDECAR,
            model=ancient(BASE_DIR),
        output:
            downstream_outputs(paths.DOWNSTREAM_BASE),
        log:
            log_of("downstream_base", downstream_job_name("{model}")),
        benchmark:
            benchmark_of("downstream_base", downstream_job_name("{model}"))
        conda:
            ENV
        threads: 1
        resources:
            gpu=model_setting("gpus", 0, at_most=1),
            mem_mb=model_setting("mem_mb", 4000, per_attempt=True),
            runtime=model_setting(
                "runtime", 60, per_attempt=True, times=len(DOWNSTREAM_JOB_TASKS) * len(DOWNSTREAM_SEEDS)
            ),
        params:
            job=downstream_job_json,
            settings=downstream_settings,
        script:
            "../workflow_scripts/downstream_base.py"

    rule downstream_finetuned:
        input:
            train=DOWNSTREAM_TRAIN,
            dev=DOWNSTREAM_DEV,
            meta=DOWNSTREAM_META,
            sidecar=FINETUNED_SIDECAR,
            model=ancient(FINETUNED_DIR),
            base_sidecar=BASE_SIDECAR,
        output:
            downstream_outputs(paths.DOWNSTREAM_FINETUNED),
        log:
            log_of("downstream_finetuned", downstream_job_name(RUN)),
        benchmark:
            benchmark_of("downstream_finetuned", downstream_job_name(RUN))
        conda:
            ENV
        threads: 1
        resources:
            gpu=model_setting("gpus", 0, at_most=1),
            mem_mb=model_setting("mem_mb", 4000, per_attempt=True),
            runtime=model_setting(
                "runtime", 60, per_attempt=True, times=len(DOWNSTREAM_JOB_TASKS) * len(DOWNSTREAM_SEEDS)
            ),
        params:
            job=downstream_job_json,
            settings=downstream_settings,
        script:
            "../workflow_scripts/downstream_finetuned.py"
