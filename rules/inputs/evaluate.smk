# Stage 4 (rules/evaluate.smk): the data files the configured metrics read (fairforget.metrics.inputs) and the
# typed job of an evaluation (fairforget.evaluation.job).


def _evaluation_inputs(results_dir, seat_dir):
    from fairforget.metrics.inputs import evaluation_inputs  # imports torch: only on a cache miss

    return evaluation_inputs(config["evaluation"], results_dir, seat_dir)


_SEAT_DIR = workflow_file("resources", "data", "seat")
EVAL_INPUTS = PARSE_CACHE.value("evaluation_inputs", [R, _SEAT_DIR], lambda: _evaluation_inputs(R, _SEAT_DIR))


def evaluation_data_inputs():
    """Data files the configured metrics read (held-out text, probe sets, SEAT tests)."""
    return EVAL_INPUTS["data"]


def evaluation_job_of(wildcards):
    """The EvaluationJob (fairforget.jobs.evaluation_job) of a base model, a run's checkpoint or a fused one (the
    `alpha` wildcard: evaluated without the trajectory metrics, rules/inputs/fusion.smk)."""
    from fairforget.jobs import evaluation_job

    fields = dict(wildcards.items())
    alpha = fields.get("alpha")
    return evaluation_job(
        config,
        R,
        model=wildcards.model,
        inputs=EVAL_INPUTS,
        run=paths.Run.of(fields) if "objective" in fields else None,
        alpha=alpha,
        evaluation=None if alpha is None else FUSED_EVALUATION,
        code=CODE["evaluate"],
    )


def evaluation_job_json(wildcards, input, output):
    """The job as JSON; a function of input/output, so not a compared param (evaluation_settings is)."""
    return evaluation_job_of(wildcards).to_json()


def evaluation_settings(wildcards):
    """What the evaluation computes with (no paths), as a param Snakemake compares."""
    return evaluation_job_of(wildcards).settings()
