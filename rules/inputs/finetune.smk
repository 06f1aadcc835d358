# Stage 3 (rules/finetune.smk): a run's inputs, the JSON spec its script reads, and how it is launched.
import json


def finetune_train_cfg(wildcards):
    """`training:` with the run's model, objective and remedy overrides (fairforget.config.grid)."""
    return run_training_config(config, wildcards.model, wildcards.objective, wildcards.remedy)


def finetune_probe_pairs(model):
    # The toy's stereotype probe is the planted one; pretrained models are probed with WinoBias test pairs.
    toy = config["models"][model]["source"] == "toy"
    return "probes/planted.jsonl" if toy else "probes/winobias.jsonl"


def finetune_probe_cfg(wildcards):
    evaluation = config["evaluation"]
    return {
        "enabled": True,
        # the run's own training settings: an objective or remedy may set probe_max_examples too
        "max_examples": finetune_train_cfg(wildcards)["probe_max_examples"],
        "batch_size": evaluation["batch_size"],
        "max_length": evaluation["max_length"],
        "general": "general/heldout.jsonl",
        "pairs": finetune_probe_pairs(wildcards.model),
        "causal_pair_score": evaluation["causal_pair_score"],
    }


def finetune_inputs(wildcards):
    probe_pairs = finetune_probe_pairs(wildcards.model)
    return {
        "base_sidecar": BASE_SIDECAR.format(model=wildcards.model),
        "base_model": ancient(BASE_DIR.format(model=wildcards.model)),
        "source": result(paths.DEBIAS_SOURCE),
        "pairs": result(paths.DEBIAS_PAIRS),
        "word_pairs": result(paths.DEBIAS_WORD_PAIRS),
        "replay": result(paths.DEBIAS_REPLAY),
        "probe_general": result(paths.GENERAL_HELDOUT),
        "probe_pairs": f"{R}/data/{probe_pairs}",
    }


def finetune_code(wildcards):
    return CODE["finetune"][wildcards.objective][wildcards.remedy]


def finetune_settings(wildcards):
    return {
        "objective_cfg": config["objectives"][wildcards.objective],
        "remedy_cfg": config["remedies"][wildcards.remedy],
        "train_cfg": finetune_train_cfg(wildcards),
        "probe_cfg": finetune_probe_cfg(wildcards),
    }


def finetune_spec(wildcards, input, output):
    """Everything the script needs, as one JSON string (passed quoted on the command line)."""
    run = run_wildcards(wildcards)
    return json.dumps(
        {
            "base_dir": input.base_model,
            "data_dir": f"{R}/data",
            "run": run,
            "objective_cfg": config["objectives"][wildcards.objective],
            "remedy_cfg": config["remedies"][wildcards.remedy],
            "train_cfg": finetune_train_cfg(wildcards),
            "probe_cfg": finetune_probe_cfg(wildcards),
            "out_dir": output.model,
            "sidecar": output.sidecar,
            "state_dir": result(paths.TRAINING_STATE, **run),
            "trajectory": output.trajectory,
            "summary": output.summary,
            "log": log_of("finetune", paths.run_path(**run)),
            "plugins": config["plugins"],
            "repo_root": workflow.basedir,
            "code": finetune_code(wildcards),
        },
        sort_keys=True,
    )


def finetune_gpus(resources):
    """GPUs of the job: resources.gpu, or N from a `gres=gpu[:type]:N` request (SLURM profile, gres mode)."""
    gpus = int(getattr(resources, "gpu", 0) or 0)
    gres = str(getattr(resources, "gres", "") or "")
    if gpus == 0 and gres.startswith("gpu"):
        tail = gres.split(":")[-1]
        gpus = int(tail) if tail.isdigit() else 1
    return gpus


def finetune_launcher(wildcards, resources):
    # The interpreter running Snakemake (the venv's), not whatever `python` is first on PATH.
    python = shlex.quote(sys.executable)
    gpus = finetune_gpus(resources)
    if gpus > 1:
        return f"{python} -m accelerate.commands.launch --multi_gpu --num_processes {gpus} --num_machines 1"
    return python
