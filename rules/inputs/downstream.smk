# Stage 5 (rules/downstream.smk): the task data, the settings, and one result file per task and downstream seed.
# On a CPU study (no model asks for GPUs: the toy and micro studies) one job per model (base, fine-tuned or fused
# checkpoint) evaluates it and then runs its downstream tasks (stage 5): one start-up (interpreter, torch,
# transformers: about 3.5 s CPU, a third of a toy downstream job) instead of two. With GPUs a downstream task is hours of work and runs as its own job per
# checkpoint x task (rules/downstream.smk), so that the tasks run in parallel on a cluster.
STUDY_ON_GPUS = any(model_cfg.get("gpus", 0) > 0 for model_cfg in config["models"].values())
DOWNSTREAM_IN_EVALUATION_JOB = not STUDY_ON_GPUS
# What one downstream job covers. On CPU (no model asks for GPUs: the toy and micro studies) a task's work is
# seconds and a job's fixed start-up (interpreter, torch, transformers) is a large share of it, so one job runs
# every task of a checkpoint (its evaluation job, DOWNSTREAM_IN_EVALUATION_JOB above). With GPUs (paper scale) a task is hours of work: one job per checkpoint x task,
# so that the tasks run in parallel on a cluster and a job's runtime stays one task's.
DOWNSTREAM_JOB_PER_TASK = STUDY_ON_GPUS
# The tasks of one job: the {task} wildcard, or every task in config order.
DOWNSTREAM_JOB_TASKS = ["{task}"] if DOWNSTREAM_JOB_PER_TASK else TASKS


def downstream_job_name(job):
    """A job's log/benchmark name: `job` (e.g. the run), and its task when one job runs one task."""
    return f"{job}/{{task}}" if DOWNSTREAM_JOB_PER_TASK else job


def downstream_job_files(template):
    """One task-data file per task of a job, in the order of DOWNSTREAM_JOB_TASKS."""
    return [result(template, task=task) for task in DOWNSTREAM_JOB_TASKS]


DOWNSTREAM_TRAIN = downstream_job_files(paths.DOWNSTREAM_TRAIN)
DOWNSTREAM_DEV = downstream_job_files(paths.DOWNSTREAM_DEV)
DOWNSTREAM_META = downstream_job_files(paths.DOWNSTREAM_META)


def downstream_outputs(template):
    """One result file per task and downstream seed, task-major in the orders of DOWNSTREAM_JOB_TASKS and
    DOWNSTREAM_SEEDS (the script splits them per task and zips each task's files with the seeds)."""
    return [result(template, task=task, dseed=dseed) for task in DOWNSTREAM_JOB_TASKS for dseed in DOWNSTREAM_SEEDS]


# A checkpoint's evaluation job that also runs its downstream tasks (DOWNSTREAM_IN_EVALUATION_JOB): its extra
# inputs, outputs, runtime and settings; nothing when the downstream tasks are jobs of their own (GPU studies).
DOWNSTREAM_INPUTS_OF_EVALUATION = (DOWNSTREAM_TRAIN + DOWNSTREAM_DEV) if DOWNSTREAM_IN_EVALUATION_JOB else []
DOWNSTREAM_META_OF_EVALUATION = DOWNSTREAM_META if DOWNSTREAM_IN_EVALUATION_JOB else []


def downstream_of_evaluation(template):
    """The downstream result files (downstream_outputs) an evaluation job writes besides its evaluation."""
    return downstream_outputs(template) if DOWNSTREAM_IN_EVALUATION_JOB else []


def evaluation_runtime(minutes=120):
    """An evaluation job's runtime: the evaluation's (`minutes` unless models.<name>.runtime), plus the downstream
    jobs' it runs (as rules/downstream.smk sets them)."""
    evaluation = model_setting("runtime", minutes, per_attempt=True)
    fits = len(TASKS) * len(DOWNSTREAM_SEEDS) if DOWNSTREAM_IN_EVALUATION_JOB else 0
    downstream = model_setting("runtime", 60, per_attempt=True, times=fits)
    return lambda wildcards, attempt: evaluation(wildcards, attempt) + downstream(wildcards, attempt)


def downstream_job_of(wildcards):
    """The DownstreamJob (fairforget.jobs.downstream_job) of a base model, a run's checkpoint or a fused one (the
    `alpha` wildcard), on the job's tasks: its {task} wildcard (GPU studies) or every task."""
    from fairforget.jobs import downstream_job

    fields = dict(wildcards.items())
    return downstream_job(
        config,
        R,
        model=wildcards.model,
        tasks=[fields["task"]] if "task" in fields else TASKS,
        run=paths.Run.of(fields) if "objective" in fields else None,
        alpha=fields.get("alpha"),
        code=CODE["downstream"][wildcards.model],
    )


def downstream_job_json(wildcards, input, output):
    """The job as JSON; a function of input/output, so not a compared param (downstream_settings is)."""
    return downstream_job_of(wildcards).to_json()


def downstream_settings(wildcards):
    """What the downstream job computes with (no paths), as a param Snakemake compares."""
    return downstream_job_of(wildcards).settings()


def downstream_of_evaluation_json(wildcards, input, output):
    """The checkpoint's DownstreamJob over every task when its evaluation job runs it (None: it runs none)."""
    return downstream_job_of(wildcards).to_json() if DOWNSTREAM_IN_EVALUATION_JOB else None


def downstream_of_evaluation_settings(wildcards):
    return downstream_job_of(wildcards).settings() if DOWNSTREAM_IN_EVALUATION_JOB else None
