# Fusion: weight-space interpolation of the base model and a debiased checkpoint (WiSE-FT, Wortsman et al. 2022),
# theta = (1 - alpha) theta_base + alpha theta_debiased, for the runs and weights of the `fusion:` section.
# A fused checkpoint lives in its own results layout R/fusion/alpha{alpha}/ (fairforget.fusion.settings) and is evaluated
# by the same scripts and package code as a fine-tuned one (forgetting and bias against its base model,
# downstream), cached by its content hash; weights 0 and 1 are the parents themselves and never rebuilt.
# The training-trajectory metrics are left out: a fused checkpoint was never trained.


include: "inputs/fusion.smk"


wildcard_constraints:
    alpha=r"0\.[0-9]+",


rule fuse:
    input:
        base_sidecar=BASE_SIDECAR,
        base_model=ancient(BASE_DIR),
        sidecar=FINETUNED_SIDECAR,
        model=ancient(FINETUNED_DIR),
    output:
        model=directory(FUSED_MODEL),
        sidecar=FUSED_SIDECAR,
    log:
        log_of("fuse", FUSED_JOB),
    benchmark:
        benchmark_of("fuse", FUSED_JOB)
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=model_setting("mem_mb", 4000, per_attempt=True),
        runtime=30,
    params:
        job=fuse_job_json,
        settings=fuse_settings,
    script:
        "../workflow_scripts/fuse.py"


# The script of evaluate_checkpoint: the same inputs, with the fused checkpoint and no trajectory; on CPU studies
# it runs the fused checkpoint's downstream tasks too, as evaluate_checkpoint does.
rule evaluate_fused:
    input:
        sidecar=FUSED_SIDECAR,
        model=ancient(FUSED_MODEL),
        base_sidecar=BASE_SIDECAR,
        base_model=ancient(BASE_DIR),
        base_scores=result(paths.EVAL_BASE_SCORES),
        trajectory=[],
        data=evaluation_data_inputs(),
        downstream_data=DOWNSTREAM_INPUTS_OF_EVALUATION,
        downstream_meta=DOWNSTREAM_META_OF_EVALUATION,
    output:
        scores=directory(result(fusion.EVAL_FUSED_SCORES)),
        metrics=result(fusion.EVAL_FUSED),
        downstream=downstream_of_evaluation(fusion.DOWNSTREAM_FUSED),
    log:
        log_of("evaluate_fused", FUSED_JOB),
    benchmark:
        benchmark_of("evaluate_fused", FUSED_JOB)
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


# The script of downstream_finetuned, on the fused checkpoint (GPU studies; on CPU studies evaluate_fused runs it).
if not DOWNSTREAM_IN_EVALUATION_JOB:

    rule downstream_fused:
        input:
            train=DOWNSTREAM_TRAIN,
            dev=DOWNSTREAM_DEV,
            meta=DOWNSTREAM_META,
            sidecar=FUSED_SIDECAR,
            model=ancient(FUSED_MODEL),
            base_sidecar=BASE_SIDECAR,
        output:
            downstream_outputs(fusion.DOWNSTREAM_FUSED),
        log:
            log_of("downstream_fused", downstream_job_name(FUSED_JOB)),
        benchmark:
            benchmark_of("downstream_fused", downstream_job_name(FUSED_JOB))
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


rule fusion_table:
    input:
        table=result(paths.TABLE_PARQUET),
        evals=[result(paths.EVAL_BASE, model=model) for model in config["models"]] + fused_paths(fusion.EVAL_FUSED),
        downstream=[
            result(paths.DOWNSTREAM_BASE, model=model, task=task, dseed=dseed)
            for model in config["models"]
            for task in TASKS
            for dseed in DOWNSTREAM_SEEDS
        ]
        + fused_downstream_results(),
        meta=[result(paths.DOWNSTREAM_META, task=task) for task in TASKS],
        sidecars=fused_paths(fusion.FUSED_SIDECAR),
    output:
        parquet=result(fusion.FUSION_TABLE_PARQUET),
        csv=result(fusion.FUSION_TABLE_CSV),
        provenance=result(fusion.FUSION_TABLE_PROVENANCE),
    log:
        log_of("fusion_table", "fusion_table"),
    benchmark:
        benchmark_of("fusion_table", "fusion_table")
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        code_root=WORKFLOW_ROOT,
        code=CODE["analysis"],
    script:
        "../workflow_scripts/fusion_table.py"
