# Stage 2 (rules/base_models.smk): what a base model is built from, by its source (fairforget.base_models).


def base_model_inputs(wildcards):
    """Sources that train on the workflow's own text (toy) depend on it; hub/local models on nothing it makes."""
    from fairforget.base_models.source import MODEL_SOURCES

    if MODEL_SOURCES.get(config["models"][wildcards.model]["source"]).uses_pretraining_text:
        return {"general": result(paths.GENERAL_PRETRAIN), "planted": result(paths.PLANTED_CORPUS)}
    return {}
