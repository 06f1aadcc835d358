# Stage 5, downstream (GLUE) evaluation: one job per checkpoint x task x downstream seed.
# Base models are scored once (downstream_base), never once per debiasing run; the analysis takes tuned - base.
# Inputs are the checkpoint's .sha256 sidecar (content hash) with the directory as ancient(...), so a
# rewritten but identical checkpoint does not trigger a rerun; scores are cached in the result store too.
# (input functions and settings of this stage: rules/common.smk)


rule downstream_base:
    input:
        unpack(downstream_task_inputs),
        sidecar=base_sidecar,
        model=ancient(base_dir),
    output:
        f"{R}/downstream/base/{{model}}/{{task}}/seed{{dseed}}.json",
    params:
        downstream=DOWNSTREAM,
        mode_override=lambda wildcards: config["models"][wildcards.model].get("downstream_mode"),
        store_dir=config["store_dir"],
        run=None,
    log:
        f"{R}/logs/downstream_base/{{model}}/{{task}}/seed{{dseed}}.log",
    benchmark:
        f"{R}/benchmarks/downstream_base/{{model}}/{{task}}/seed{{dseed}}.tsv"
    threads: 1
    resources:
        gpu=model_setting("gpus", 0, at_most=1),
        mem_mb=model_setting("mem_mb", 4000, per_attempt=True),
        runtime=model_setting("runtime", 60, per_attempt=True),
    conda:
        ENV
    script:
        "../workflow_scripts/downstream.py"


rule downstream_finetuned:
    input:
        unpack(downstream_task_inputs),
        sidecar=finetuned_sidecar,
        model=ancient(finetuned_dir),
        base_sidecar=base_sidecar,
    output:
        f"{R}/downstream/finetuned/{RUN}/{{task}}/seed{{dseed}}.json",
    params:
        downstream=DOWNSTREAM,
        mode_override=lambda wildcards: config["models"][wildcards.model].get("downstream_mode"),
        store_dir=config["store_dir"],
        run=run_wildcards,
    log:
        f"{R}/logs/downstream_finetuned/{RUN}/{{task}}/seed{{dseed}}.log",
    benchmark:
        f"{R}/benchmarks/downstream_finetuned/{RUN}/{{task}}/seed{{dseed}}.tsv"
    threads: 1
    resources:
        gpu=model_setting("gpus", 0, at_most=1),
        mem_mb=model_setting("mem_mb", 4000, per_attempt=True),
        runtime=model_setting("runtime", 60, per_attempt=True),
    conda:
        ENV
    script:
        "../workflow_scripts/downstream.py"
