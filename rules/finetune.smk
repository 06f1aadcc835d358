# Stage 3, debiasing fine-tuning: one job per run (model x objective x remedy x data size x seed).
#
# Launch: with resources.gpu <= 1 (toy models on CPU, or one GPU) the script runs as one `python` process;
# with gpu > 1 (`models.<name>.gpus`, or FAIRFORGET_SLURM_FINETUNE_GPUS in the SLURM profile, also when the
# profile requests GPUs as `gres=gpu[:type]:N`) it runs under `accelerate launch --multi_gpu --num_processes N`,
# one process per GPU, each taking a share of every batch (fairforget.training.engine).
# Preemption: SIGTERM makes the engine save R/training/RUN/state/ and exit non-zero; the state folder is not
# an output, so it survives Snakemake's cleanup and the retry resumes from it bit-exactly (on CPU).
# (input functions and settings of this stage: rules/common.smk)


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
        gpu=model_setting("gpus", 0),
        mem_mb=model_setting("mem_mb", 4000, per_attempt=True),
        runtime=model_setting("runtime", 60, per_attempt=True),
    # a preempted or crashed job resumes from its saved state on retry
    retries: 2
    conda:
        ENV
    shell:
        "OMP_NUM_THREADS={threads} {params.launcher} {params.script:q} --spec {params.spec:q} --threads {threads}"
        " 2>> {log:q}"
