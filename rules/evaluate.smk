# Stage 4: scoring, forgetting statistics and bias metrics (fairforget.evaluation).
# A base model is scored once (evaluate_base); every checkpoint reuses those scores (evaluate_checkpoint).
# (input functions and settings of this stage: rules/common.smk)


rule evaluate_base:
    input:
        sidecar=BASE_SIDECAR,
        model=ancient(BASE_DIR),
        data=evaluation_data_inputs(),
    output:
        scores=directory(f"{R}/eval/base/{{model}}/scores"),
        metrics=f"{R}/eval/base/{{model}}/metrics.json",
    params:
        evaluation=config["evaluation"],
        store_dir=config["store_dir"],
        heldout=lambda wildcards, input: EVAL_INPUTS["heldout"],  # one of input.data
        probes=EVAL_INPUTS["probes"],
        seat_dir=lambda wildcards, input: EVAL_INPUTS["seat_dir"],  # holds input.data SEAT files
    log:
        f"{R}/logs/evaluate_base/{{model}}.log",
    benchmark:
        f"{R}/benchmarks/evaluate_base/{{model}}.tsv"
    threads: 2
    resources:
        mem_mb=model_setting("mem_mb", 4000, per_attempt=True),
        runtime=model_setting("runtime", 60, per_attempt=True),
    conda:
        ENV
    script:
        "../workflow_scripts/evaluate_base.py"


rule evaluate_checkpoint:
    input:
        sidecar=FINETUNED_SIDECAR,
        model=ancient(FINETUNED_DIR),
        base_sidecar=BASE_SIDECAR,
        base_model=ancient(BASE_DIR),
        base_scores=f"{R}/eval/base/{{model}}/scores",
        trajectory=(
            [f"{R}/training/{RUN}/trajectory.parquet"] if EVAL_INPUTS["needs_trajectory"] else []
        ),
        data=evaluation_data_inputs(),
    output:
        scores=directory(f"{R}/eval/finetuned/{RUN}/scores"),
        metrics=f"{R}/eval/finetuned/{RUN}/metrics.json",
    params:
        evaluation=config["evaluation"],
        store_dir=config["store_dir"],
        heldout=lambda wildcards, input: EVAL_INPUTS["heldout"],  # one of input.data
        probes=EVAL_INPUTS["probes"],
        seat_dir=lambda wildcards, input: EVAL_INPUTS["seat_dir"],  # holds input.data SEAT files
        run=run_wildcards,
    log:
        f"{R}/logs/evaluate_checkpoint/{RUN}.log",
    benchmark:
        f"{R}/benchmarks/evaluate_checkpoint/{RUN}.tsv"
    threads: 2
    resources:
        mem_mb=model_setting("mem_mb", 6000, per_attempt=True),
        runtime=model_setting("runtime", 120, per_attempt=True),
    conda:
        ENV
    script:
        "../workflow_scripts/evaluate_checkpoint.py"
