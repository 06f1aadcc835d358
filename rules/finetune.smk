# Stage 3, debiasing fine-tuning: one job per run (model x objective x remedy x data size x seed).
#
# Launch: with resources.gpu <= 1 (toy models on CPU, or one GPU) the script runs as one `python` process;
# with gpu > 1 (`models.<name>.gpus`, or FAIRFORGET_SLURM_FINETUNE_GPUS in the SLURM profile, also when the
# profile requests GPUs as `gres=gpu[:type]:N`) it runs under `accelerate launch --multi_gpu --num_processes N`,
# one process per GPU, each taking a share of every batch (fairforget.training.run, training.loop).
# Preemption: SIGTERM makes the engine save R/training/RUN/state/ and exit non-zero; the state folder is not
# an output, so it survives Snakemake's cleanup and the retry resumes from it bit-exactly (on CPU).


include: "inputs/finetune.smk"


rule finetune:
    input:
        unpack(finetune_inputs),
    output:
        model=directory(FINETUNED_DIR),
        sidecar=FINETUNED_SIDECAR,
        trajectory=result(paths.TRAJECTORY),
        summary=result(paths.TRAIN_SUMMARY),
    log:
        log_of("finetune", RUN),
    benchmark:
        benchmark_of("finetune", RUN)
    # a preempted or crashed job resumes from its saved state on retry
    retries: 2
    conda:
        ENV
    threads: model_threads
    resources:
        gpu=model_setting("gpus", 0),
        mem_mb=model_setting("mem_mb", 4000, per_attempt=True),
        runtime=model_setting("runtime", 60, per_attempt=True),
        # passed to the script: each attempt keeps its own log (fairforget.workflow.logs)
        attempt=lambda wildcards, attempt: attempt,
    params:
        job=finetune_job_json,
        launcher=finetune_launcher,
        code=finetune_code,
        # what the run trains with, as a param Snakemake compares (the job, a function of input/output, is not)
        settings=finetune_settings,
        script=workflow_file("workflow_scripts", "finetune.py"),
    shell:
        "OMP_NUM_THREADS={threads} {params.launcher} {params.script:q} --job {params.job:q} --threads {threads}"
        " --attempt {resources.attempt}"
        " 2>> {log:q}"
