# Fusion (rules/fusion.smk): the `fusion:` section, the runs it fuses, and the files of their fused checkpoints.
from fairforget.fusion import settings as fusion

FUSION = fusion.FusionSettings.from_config(config)
FUSION.check_against(config)
FUSED_RUNS = fusion.fused_runs(FUSION, RUNS)
# The weights that make new checkpoints, as they appear in paths (0 and 1 are the parents, never rebuilt).
FUSED_ALPHAS = [fusion.alpha_label(alpha) for alpha in FUSION.fused_alphas] if FUSED_RUNS else []
FUSED_MODEL = result(fusion.FUSED_MODEL)
FUSED_SIDECAR = result(fusion.FUSED_SIDECAR)
FUSED_JOB = f"{RUN}/alpha{{alpha}}"


def _evaluation_without_trajectory(evaluation):
    """`evaluation:` without the metrics of the training trajectory: a fused checkpoint was never trained."""
    from fairforget.metrics.base import METRICS, TRAJECTORY, EvaluationSettings  # torch: only on a cache miss

    settings = EvaluationSettings.from_config(evaluation)
    kept = [name for name in evaluation["metrics"] if TRAJECTORY not in METRICS.get(name)().requires(settings)]
    return {**evaluation, "metrics": kept}


FUSED_EVALUATION = PARSE_CACHE.value(
    "fused_evaluation", [], lambda: _evaluation_without_trajectory(config["evaluation"])
)


def fused_paths(template):
    """A fusion template expanded over every fused run and weight."""
    return [result(template, alpha=alpha, **run.wildcards()) for run in FUSED_RUNS for alpha in FUSED_ALPHAS]


def fused_downstream_results():
    return [
        result(fusion.DOWNSTREAM_FUSED, alpha=alpha, **run.wildcards(), task=task, dseed=dseed)
        for run in FUSED_RUNS
        for alpha in FUSED_ALPHAS
        for task in TASKS
        for dseed in DOWNSTREAM_SEEDS
    ]


def fuse_job_of(wildcards):
    """The FuseJob (fairforget.jobs.fuse_job) of a run at the weight of the `alpha` wildcard."""
    from fairforget.jobs import fuse_job

    return fuse_job(paths.Run.of(wildcards), wildcards.alpha, R, code=CODE["fuse"])


def fuse_job_json(wildcards, input, output):
    """The job as JSON; a function of input/output, so not a compared param (fuse_settings is)."""
    return fuse_job_of(wildcards).to_json()


def fuse_settings(wildcards):
    return fuse_job_of(wildcards).settings()
