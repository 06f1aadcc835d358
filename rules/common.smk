# Shared by every stage: the config (validated and key-sorted), the run grid, wildcard constraints, the result
# layout (fairforget.paths) and per-model resources. Each stage's own input functions and settings live in
# rules/inputs/<stage>.smk, included by rules/<stage>.smk (snakemake --lint wants functions and rules apart).
import os
import shlex
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "src"))

from fairforget import paths  # noqa: E402
from fairforget.config import run_grid, run_training_config  # noqa: E402
from fairforget.workflow.code_params import workflow_code  # noqa: E402
from fairforget.workflow.parse_cache import ParseCache  # noqa: E402

# Parse-time work that imports torch (seconds per `snakemake` call) is kept in .snakemake/fairforget/, keyed by
# the config and the package's code (fairforget.workflow.parse_cache).
PARSE_CACHE = ParseCache(config, base_dir=workflow.basedir, cache_dir=Path(".snakemake") / "fairforget")
# Semantic checks the JSON schema cannot express (unknown objective names, ...): fail before any job.
PARSE_CACHE.check_config()


def _sorted_keys(value):
    """Mappings with sorted keys (lists keep their order): Snakemake compares a rule's params by their repr,
    so without this a config saved with another key order would look like changed params and rerun jobs."""
    if isinstance(value, dict):
        return {key: _sorted_keys(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted_keys(item) for item in value]
    return value


for _key in list(config):
    config[_key] = _sorted_keys(config[_key])

# The code identity of every job (fairforget.workflow.code_params): a rule param, so that Snakemake replans the
# jobs whose method code changed (docs/caching.md, "Code identity").
CODE = PARSE_CACHE.value("code_identity", [], lambda: workflow_code(config))


def workflow_file(*parts):
    """A file of the workflow (a shipped resource, a script) named relative to the working directory, not as an
    absolute path: Snakemake replans a job whose recorded input paths or params changed, so with absolute paths
    a project moved or copied to another folder would rerun its whole study (docs/faults.md)."""
    return os.path.relpath(Path(workflow.basedir, *parts))


# the workflow's folder, as the analysis rules' `code_root` param (where resources/SHA256SUMS and plug-ins are)
WORKFLOW_ROOT = workflow_file()
R = config["results_dir"]
RUNS = run_grid(config)
RUN = paths.RUN
TASKS = list(config["data"]["downstream"]["tasks"])
DOWNSTREAM_SEEDS = list(config["downstream"]["seeds"])
ENV = "../envs/fairforget.yaml"


# What each wildcard matches: the patterns that also recognise result files by their path (one source).
wildcard_constraints:
    **paths.FIELD_PATTERNS,


def result(template, **fields):
    """A path under R from a fairforget.paths template; unfilled fields stay wildcards."""
    return paths.under(R, template, **fields)


def run_paths(template):
    """A fairforget.paths template expanded over every fine-tuning run."""
    return [result(template, **run.wildcards()) for run in RUNS]


# Input paths as wildcard patterns, not input functions: Snakemake fills a pattern in far more cheaply than it
# calls a function (it inspects the function's signature and builds a Wildcards object per job and per call),
# which matters at thousands of jobs.
BASE_SIDECAR = result(paths.BASE_SIDECAR)
BASE_DIR = result(paths.BASE_MODEL)
FINETUNED_SIDECAR = result(paths.FINETUNED_SIDECAR)
FINETUNED_DIR = result(paths.FINETUNED_MODEL)


def log_of(rule, job):
    return paths.log_file(R, rule, job)


def benchmark_of(rule, job):
    return paths.benchmark_file(R, rule, job)


def model_source(wildcards):
    from fairforget.base_models.source import MODEL_SOURCES

    return MODEL_SOURCES.get(config["models"][wildcards.model]["source"])


def model_threads(wildcards):
    """Threads of a build or fine-tuning job on one base model: its source's (toy: 1, gguf: 1)."""
    return model_source(wildcards).threads


def evaluation_threads(wildcards):
    """Threads of an evaluation job on one base model: its source's (hub, local: 2; toy, gguf: 1)."""
    return model_source(wildcards).evaluation_threads


def model_setting(key, default, per_attempt=False, at_most=None, times=1):
    """A per-model resource (models.<name>.gpus / mem_mb / runtime) for wildcards.model.

    per_attempt: scale with Snakemake's attempt (1, 2, ...) so a job retried after running out of memory or
    time asks for more; at_most: a cap (downstream jobs are one process, so one GPU); times: a factor (a
    downstream job fine-tunes once per downstream seed, so its runtime is that many times the model's).
    """
    # One dict look-up per job: Snakemake calls this for every job of the rule (thousands on the paper grid).
    per_model = {}
    for model, model_cfg in config["models"].items():
        setting = model_cfg.get(key, default)
        per_model[model] = (setting if at_most is None else min(setting, at_most)) * times

    def value(wildcards, attempt):
        setting = per_model[wildcards.model]
        return setting * attempt if per_attempt else setting

    return value


if workflow.is_main_process:
    # A job whose script failed in a way a retry would repeat is not retried (fairforget.workflow.logs).
    from snakemake.jobs import Job as _Job
    from snakemake.logging import logger as _logger
    from fairforget.workflow.logs import no_retry_after_deterministic_failure

    no_retry_after_deterministic_failure(_Job, _logger.error)


def slurm_onstart(workflow):
    """Under the SLURM executor, before anything is submitted: stop on jobs no node can take (the pre-flight
    check), then watch for jobs pending for a reason that never clears (fairforget.workflow.slurm package)."""
    plugin = workflow.executor_plugin
    if plugin is None or plugin.name != "slurm":
        return
    import signal
    from snakemake.logging import logger
    from fairforget.workflow.slurm import patch, preflight, watch as pending

    if os.environ.get("FAIRFORGET_SLURM_PREFLIGHT", "1") != "0":
        logger.info(preflight.preflight(workflow))
    import snakemake_executor_plugin_slurm

    if not patch.patch_status_query(snakemake_executor_plugin_slurm):
        logger.warning("fairforget: cannot patch the SLURM plugin's status query: a cancelled job may hang the run")
    if not patch.patch_cancel_by_run(snakemake_executor_plugin_slurm.Executor):
        logger.warning("fairforget: cannot patch the SLURM plugin's cancellation: Ctrl-C may leave jobs running")
    watch = pending.PendingWatch(workdir=os.getcwd(), report=logger.error, **pending.watch_settings(os.environ))
    from snakemake.jobs import GroupJob, Job
    from snakemake_executor_plugin_slurm.utils import get_job_wildcards

    pending.no_resubmit_after_cancel((Job, GroupJob), watch.never_start, get_job_wildcards, logger.error)
    watch.start()
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        logger.warning(
            "fairforget: this snakemake ignores SIGINT (started in the background by a shell without job control): "
            "Ctrl-C cannot stop it or cancel its SLURM jobs; run it inside tmux or screen (docs/slurm.md)"
        )


def force_stale_products(workflow):
    """Rebuild what is missing or corrupt although products made from it exist (fairforget.workflow.products):
    each such job is forced, with a line saying why. Only in the process that plans (not in a cluster job).
    Snakemake sets the DAG settings (`--forcerun` among them) after it parsed the Snakefile, so the check runs
    when the DAG is prepared: as the first step of the workflow's `_prepare_dag`, once per invocation."""
    from types import SimpleNamespace
    from snakemake.logging import logger
    from fairforget.workflow import products

    level = products.verify_level()
    if level == "off" or not workflow.is_main_process:
        return
    layout = products.Layout(
        results_dir=R,
        models=list(config["models"]),
        toy_models=[m for m in config["models"] if model_source(SimpleNamespace(model=m)).uses_pretraining_text],
        runs=RUNS,
        fused_runs=FUSED_RUNS,
        fused_alphas=FUSED_ALPHAS,
        tasks=TASKS,
        downstream_seeds=DOWNSTREAM_SEEDS,
        evaluation_data=evaluation_data_inputs(),
        finetune_data=lambda run: [str(f) for f in finetune_inputs(SimpleNamespace(model=run.model)).values()],
        downstream_in_evaluation_job=DOWNSTREAM_IN_EVALUATION_JOB,
    )
    prepare_dag = workflow._prepare_dag
    checked = []

    def check_then_prepare_dag(*args, **kwargs):
        if not checked and workflow.dag_settings is not None:
            checked.append(True)
            stale = products.stale_products(products.study_products(layout), full=level == "full")
            for item in stale:
                logger.warning(item.line())
            if stale:
                forced = {item.product.outputs[0] for item in stale}
                workflow.dag_settings.forcerun = frozenset(workflow.dag_settings.forcerun) | forced
        return prepare_dag(*args, **kwargs)

    workflow._prepare_dag = check_then_prepare_dag
