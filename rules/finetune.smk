# Stage 3, debiasing fine-tuning: one job per run (model x objective x remedy x data size x seed).
#
# Launch: with resources.gpu <= 1 (toy models on CPU, or one GPU) the script runs as one `python` process;
# with gpu > 1 (`models.<name>.gpus`, or FAIRFORGET_SLURM_FINETUNE_GPUS in the SLURM profile, also when the
# profile requests GPUs as `gres=gpu[:type]:N`) it runs under `accelerate launch --multi_gpu --num_processes N`,
# one process per GPU, each taking a share of every batch (fairforget.training.engine).
# Preemption: SIGTERM makes the engine save R/training/RUN/state/ and exit non-zero; the state folder is not
# an output, so it survives Snakemake's cleanup and the retry resumes from it bit-exactly (on CPU).
import json


def finetune_train_cfg(model):
    """`training:` merged with the model's own `models.<name>.training` overrides."""
    return {**config["training"], **config["models"][model].get("training", {})}


def finetune_probe_cfg(model):
    # The toy's stereotype probe is the planted one; pretrained models are probed with WinoBias test pairs.
    toy = config["models"][model]["source"] == "toy"
    return {
        "enabled": True,
        "max_examples": finetune_train_cfg(model).get("probe_max_examples", 50),
        "batch_size": config["evaluation"].get("batch_size", 32),
        "max_length": config["evaluation"].get("max_length", 64),
        "general": "general/heldout.jsonl",
        "pairs": "probes/planted.jsonl" if toy else "probes/winobias.jsonl",
    }


def finetune_inputs(wildcards):
    probe_pairs = finetune_probe_cfg(wildcards.model)["pairs"]
    return {
        "base_sidecar": base_sidecar(wildcards),
        "base_model": ancient(base_dir(wildcards)),
        "source": f"{R}/data/debias/source.jsonl",
        "pairs": f"{R}/data/debias/pairs.jsonl",
        "word_pairs": f"{R}/data/debias/word_pairs.json",
        "general": f"{R}/data/general/pretrain.jsonl",
        "probe_general": f"{R}/data/general/heldout.jsonl",
        "probe_pairs": f"{R}/data/{probe_pairs}",
    }


def finetune_spec(wildcards, input, output):
    """Everything the script needs, as one JSON string (passed quoted on the command line)."""
    run = run_wildcards(wildcards)
    return json.dumps({
        "base_dir": input.base_model,
        "data_dir": f"{R}/data",
        "run": run,
        "objective_cfg": config["objectives"][wildcards.objective],
        "remedy_cfg": config["remedies"][wildcards.remedy],
        "train_cfg": finetune_train_cfg(wildcards.model),
        "probe_cfg": finetune_probe_cfg(wildcards.model),
        "out_dir": output.model,
        "sidecar": output.sidecar,
        "state_dir": f"{R}/training/{RUN}/state".format(**run),
        "trajectory": output.trajectory,
        "summary": output.summary,
        "log": f"{R}/logs/finetune/{RUN}.log".format(**run),
        "plugins": config.get("plugins", []),
        "repo_root": workflow.basedir,
    }, sort_keys=True)


def finetune_gpus(resources):
    """GPUs of the job: resources.gpu, or N from a `gres=gpu[:type]:N` request (SLURM profile, gres mode)."""
    gpus = int(getattr(resources, "gpu", 0) or 0)
    gres = str(getattr(resources, "gres", "") or "")
    if gpus == 0 and gres.startswith("gpu"):
        tail = gres.split(":")[-1]
        gpus = int(tail) if tail.isdigit() else 1
    return gpus


def finetune_launcher(wildcards, resources):
    gpus = finetune_gpus(resources)
    if gpus > 1:
        return f"accelerate launch --multi_gpu --num_processes {gpus} --num_machines 1"
    return "python"


rule finetune:
    input:
        unpack(finetune_inputs),
    output:
        model=directory(f"{R}/models/finetuned/{RUN}"),
        sidecar=f"{R}/models/finetuned/{RUN}.sha256",
        trajectory=f"{R}/training/{RUN}/trajectory.parquet",
        summary=f"{R}/training/{RUN}/train_summary.json",
    params:
        spec=finetune_spec,
        launcher=finetune_launcher,
        script=str(Path(workflow.basedir) / "workflow_scripts" / "finetune.py"),
    log:
        f"{R}/logs/finetune/{RUN}.log",
    benchmark:
        f"{R}/benchmarks/finetune/{RUN}.tsv"
    threads: toy_aware_threads  # rules/base_models.smk
    resources:
        gpu=lambda wildcards: config["models"][wildcards.model].get("gpus", 0),
        mem_mb=lambda wildcards: config["models"][wildcards.model].get("mem_mb", 4000),
        runtime=lambda wildcards: config["models"][wildcards.model].get("runtime", 60),
    # a preempted or crashed job resumes from its saved state on retry
    retries: 2
    conda:
        ENV
    shell:
        "OMP_NUM_THREADS={threads} {params.launcher} {params.script:q} --spec {params.spec:q} --threads {threads}"
        " 2>> {log:q}"
