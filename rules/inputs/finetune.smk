# Stage 3 (rules/finetune.smk): a run's inputs, the typed job its script reads, and how it is launched.


def finetune_job_of(wildcards):
    """The run's FinetuneJob (fairforget.jobs.finetune_job): built once here, passed to the script untouched."""
    from fairforget.jobs import finetune_job

    code = CODE["finetune"][wildcards.objective][wildcards.remedy]
    return finetune_job(config, paths.Run.of(wildcards), R, repo_root=workflow.basedir, code=code)


def finetune_inputs(wildcards):
    """The files a run of wildcards.model reads (fairforget.jobs.finetune_inputs); the base model's
    folder `ancient`: its sidecar, not its modification time, says whether it changed."""
    from fairforget.jobs import finetune_inputs as inputs_of

    files = inputs_of(config, wildcards.model, R)
    return {**files, "base_model": ancient(files["base_model"])}


def finetune_code(wildcards):
    return CODE["finetune"][wildcards.objective][wildcards.remedy]


def finetune_settings(wildcards):
    """What the run trains with (no paths), as a param Snakemake compares (the job param is not compared)."""
    return finetune_job_of(wildcards).settings()


def finetune_job_json(wildcards, input, output):
    """The job as one JSON string, passed quoted on the command line. Built from the wildcards like the rule's
    input and output; taking `input` and `output` keeps it out of Snakemake's params comparison, which would
    otherwise rerun every job of a moved project (it holds the workflow's absolute folder)."""
    return finetune_job_of(wildcards).to_json()


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
