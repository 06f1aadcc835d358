# Stage 2, base models: toy models are pretrained from scratch here (tokenizer + tiny model, on CPU);
# hub models are copied from a local path or the local Hugging Face cache (never downloaded at run time:
# fetch them first with `hf download <hub_id>`, see the ModelError message).
# Output: the model directory plus its .sha256 sidecar, which downstream rules depend on.


include: "inputs/base_models.smk"


rule build_base_model:
    input:
        unpack(base_model_inputs),
    output:
        model=directory(BASE_DIR),
        sidecar=BASE_SIDECAR,
    log:
        log_of("build_base_model", "{model}"),
    benchmark:
        benchmark_of("build_base_model", "{model}")
    conda:
        ENV
    threads: model_threads
    resources:
        mem_mb=model_setting("mem_mb", 4000, per_attempt=True),
        runtime=model_setting("runtime", 30, per_attempt=True),
    params:
        job=base_model_job_json,
        model_cfg=lambda wildcards: config["models"][wildcards.model],
        code=lambda wildcards: CODE["build_base_model"][wildcards.model],
    script:
        "../workflow_scripts/build_base_model.py"
