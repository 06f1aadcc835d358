# Stage 4: scoring, forgetting statistics and bias metrics (fairforget.evaluation).
# A base model is scored once (evaluate_base); every checkpoint reuses those scores (evaluate_checkpoint).
# On a CPU study both then run the model's downstream tasks (stage 5) in the same job
# (DOWNSTREAM_IN_EVALUATION_JOB, rules/inputs/downstream.smk): the same result files, store keys and provenance as
# downstream_base's and downstream_finetuned's, which are rules of their own only on GPU studies.


include: "inputs/evaluate.smk"
include: "inputs/downstream.smk"  # rules/downstream.smk includes it too (Snakemake reads it once)


rule evaluate_base:
    input:
        sidecar=BASE_SIDECAR,
        model=ancient(BASE_DIR),
        data=evaluation_data_inputs(),
        downstream_data=DOWNSTREAM_INPUTS_OF_EVALUATION,
        downstream_meta=DOWNSTREAM_META_OF_EVALUATION,
    output:
        scores=directory(result(paths.EVAL_BASE_SCORES)),
        metrics=result(paths.EVAL_BASE),
        downstream=downstream_of_evaluation(paths.DOWNSTREAM_BASE),
    log:
        log_of("evaluate_base", "{model}"),
    benchmark:
        benchmark_of("evaluate_base", "{model}")
    conda:
        ENV
    threads: evaluation_threads
    resources:
        mem_mb=model_setting("mem_mb", 4000, per_attempt=True),
        runtime=evaluation_runtime(60),
    params:
        job=evaluation_job_json,
        settings=evaluation_settings,
        downstream_job=downstream_of_evaluation_json,
        downstream_settings=downstream_of_evaluation_settings,
    script:
        "../workflow_scripts/evaluate.py"


rule evaluate_checkpoint:
    input:
        sidecar=FINETUNED_SIDECAR,
        model=ancient(FINETUNED_DIR),
        base_sidecar=BASE_SIDECAR,
        base_model=ancient(BASE_DIR),
        base_scores=result(paths.EVAL_BASE_SCORES),
        trajectory=([result(paths.TRAJECTORY)] if EVAL_INPUTS["needs_trajectory"] else []),
        data=evaluation_data_inputs(),
        downstream_data=DOWNSTREAM_INPUTS_OF_EVALUATION,
        downstream_meta=DOWNSTREAM_META_OF_EVALUATION,
    output:
        scores=directory(result(paths.EVAL_FINETUNED_SCORES)),
        metrics=result(paths.EVAL_FINETUNED),
        downstream=downstream_of_evaluation(paths.DOWNSTREAM_FINETUNED),
    log:
        log_of("evaluate_checkpoint", RUN),
    benchmark:
        benchmark_of("evaluate_checkpoint", RUN)
    conda:
        ENV
    threads: evaluation_threads
    resources:
        mem_mb=model_setting("mem_mb", 6000, per_attempt=True),
        runtime=evaluation_runtime(),
    params:
        job=evaluation_job_json,
        settings=evaluation_settings,
        downstream_job=downstream_of_evaluation_json,
        downstream_settings=downstream_of_evaluation_settings,
    script:
        "../workflow_scripts/evaluate.py"
