# Stage 2, base models: toy models are pretrained from scratch here (tokenizer + tiny model, on CPU);
# hub models are copied from a local path or the local Hugging Face cache (never downloaded at run time:
# fetch them first with `hf download <hub_id>`, see the ModelError message).
# Output: the model directory plus its .sha256 sidecar, which downstream rules depend on.


def base_model_inputs(wildcards):
    """Toy models depend on the pretraining text; hub/local models on nothing the workflow makes."""
    model_cfg = config["models"][wildcards.model]
    if model_cfg["source"] == "toy":
        return {
            "general": f"{R}/data/general/pretrain.jsonl",
            "planted": f"{R}/data/stereotype/planted.jsonl",
        }
    return {}


def base_model_setting(key, default):
    return lambda wildcards: config["models"][wildcards.model].get(key, default)


def toy_aware_threads(wildcards):
    # Tiny toy models train fastest on ONE thread: several OpenMP threads on a shared, oversubscribed CPU
    # were measured 10x slower (379 vs 4467 tokens/s); so toy jobs run side by side, one core each.
    return 1 if config["models"][wildcards.model]["source"] == "toy" else 4


rule build_base_model:
    input:
        unpack(base_model_inputs),
    output:
        model=directory(f"{R}/models/base/{{model}}"),
        sidecar=f"{R}/models/base/{{model}}.sha256",
    params:
        model_name=lambda wildcards: wildcards.model,
        model_cfg=lambda wildcards: config["models"][wildcards.model],
    log:
        f"{R}/logs/build_base_model/{{model}}.log",
    benchmark:
        f"{R}/benchmarks/build_base_model/{{model}}.tsv"
    threads: toy_aware_threads
    resources:
        mem_mb=base_model_setting("mem_mb", 4000),
        runtime=30,
    conda:
        ENV
    script:
        "../workflow_scripts/build_base_model.py"
