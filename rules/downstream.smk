# Stage 5, downstream (GLUE) evaluation: one job per checkpoint x task, fine-tuning once per downstream seed
# inside the job (one result JSON per seed). One job per seed would triple the DAG (8,100 jobs on the paper
# grid, most of Snakemake's planning time) and the GPU jobs that each load the task data and the model anew.
# Base models are scored once (downstream_base), never once per debiasing run; the analysis takes tuned - base.
# Inputs are the checkpoint's .sha256 sidecar (content hash) with the directory as ancient(...), so a
# rewritten but identical checkpoint does not trigger a rerun; scores are cached in the result store per seed,
# so a job retried after a failure in its last seed recomputes nothing for the earlier ones.


include: "inputs/downstream.smk"


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
        log_of("downstream_base", "{model}/{task}"),
    benchmark:
        benchmark_of("downstream_base", "{model}/{task}")
    conda:
        ENV
    threads: 1
    resources:
        gpu=model_setting("gpus", 0, at_most=1),
        mem_mb=model_setting("mem_mb", 4000, per_attempt=True),
        runtime=model_setting("runtime", 60, per_attempt=True, times=len(DOWNSTREAM_SEEDS)),
    params:
        downstream=DOWNSTREAM,
        dseeds=DOWNSTREAM_SEEDS,  # one per output, in order
        mode_override=downstream_mode_override,
        store_dir=config["store_dir"],
        code=lambda wildcards: CODE["downstream"][wildcards.model],
        run=None,
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
        log_of("downstream_finetuned", f"{RUN}/{{task}}"),
    benchmark:
        benchmark_of("downstream_finetuned", f"{RUN}/{{task}}")
    conda:
        ENV
    threads: 1
    resources:
        gpu=model_setting("gpus", 0, at_most=1),
        mem_mb=model_setting("mem_mb", 4000, per_attempt=True),
        runtime=model_setting("runtime", 60, per_attempt=True, times=len(DOWNSTREAM_SEEDS)),
    params:
        downstream=DOWNSTREAM,
        dseeds=DOWNSTREAM_SEEDS,  # one per output, in order
        mode_override=downstream_mode_override,
        store_dir=config["store_dir"],
        code=lambda wildcards: CODE["downstream"][wildcards.model],
        run=run_wildcards,
    script:
        "../workflow_scripts/downstream_finetuned.py"
