# Stage 5 (rules/downstream.smk): the task data, the settings, and one result file per downstream seed.
DOWNSTREAM = config["downstream"]
DOWNSTREAM_TRAIN = result(paths.DOWNSTREAM_TRAIN)
DOWNSTREAM_DEV = result(paths.DOWNSTREAM_DEV)
DOWNSTREAM_META = result(paths.DOWNSTREAM_META)


def downstream_outputs(template):
    """One result file per downstream seed, in the order of DOWNSTREAM_SEEDS (the script zips them)."""
    return [result(template, dseed=dseed) for dseed in DOWNSTREAM_SEEDS]


def downstream_mode_override(wildcards):
    return config["models"][wildcards.model].get("downstream_mode")
