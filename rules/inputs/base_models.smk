# Stage 2 (rules/base_models.smk): what a base model is built from, by its source, and its typed job.


def base_model_inputs(wildcards):
    """Sources that train on the workflow's own text (toy) depend on it; hub/local models on nothing it makes."""
    from fairforget.jobs import base_model_inputs as inputs_of

    return dict(zip(("general", "planted"), inputs_of(config, wildcards.model, R)))


def base_model_job_json(wildcards, input, output):
    """The BaseModelJob (fairforget.training.job) as JSON; a function of input/output, so not a compared param
    (model_cfg and code are)."""
    from fairforget.jobs import base_model_job

    code = CODE["build_base_model"][wildcards.model]
    return base_model_job(config, wildcards.model, R, code=code).to_json()
