# Stage 5 (rules/downstream.smk): the task data, the settings, and one result file per task and downstream seed.
DOWNSTREAM = config["downstream"]
# What one downstream job covers. On CPU (no model asks for GPUs: the toy and micro studies) a task's work is
# seconds and a job's fixed start-up (interpreter, torch, transformers) is a large share of it, so one job runs
# every task of a checkpoint. With GPUs (paper scale) a task is hours of work: one job per checkpoint x task,
# so that the tasks run in parallel on a cluster and a job's runtime stays one task's.
DOWNSTREAM_JOB_PER_TASK = any(model_cfg.get("gpus", 0) > 0 for model_cfg in config["models"].values())
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


def downstream_mode_override(wildcards):
    return config["models"][wildcards.model].get("downstream_mode")
