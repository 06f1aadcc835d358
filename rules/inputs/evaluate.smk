# Stage 4 (rules/evaluate.smk): the data files the configured metrics read (fairforget.metrics.inputs).


def _evaluation_inputs(results_dir, seat_dir):
    from fairforget.metrics.inputs import evaluation_inputs  # imports torch: only on a cache miss

    return evaluation_inputs(config["evaluation"], results_dir, seat_dir)


_SEAT_DIR = workflow_file("resources", "data", "seat")
EVAL_INPUTS = PARSE_CACHE.value("evaluation_inputs", [R, _SEAT_DIR], lambda: _evaluation_inputs(R, _SEAT_DIR))


def evaluation_data_inputs():
    """Data files the configured metrics read (held-out text, probe sets, SEAT tests)."""
    return EVAL_INPUTS["data"]
