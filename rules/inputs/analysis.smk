# Stage 6 (rules/analysis.smk): every result the analysis reads, and the products of the workflow.
# The figures rule's figures (fairforget.analysis.figures.FIGURE_NAMES); the findings rule draws VERDICTS.
FIGURES = [
    "downstream_vs_overall_forgetting",
    "selective_vs_overall_forgetting",
    "remedies_paired",
    "bias_vs_forgetting_frontier",
    "trajectory_forgetting",
    "data_size_sweep",
]
VERDICTS = "verdicts"
# The HTML report lists results sorted by these labels: the verdicts first, then the claims in order.
REPORT_LABELS = {
    VERDICTS: "1. Verdicts on F1, F2, F3",
    "downstream_vs_overall_forgetting": "2. F1: downstream change vs overall forgetting",
    "selective_vs_overall_forgetting": "3. F2: overall vs selective forgetting",
    "remedies_paired": "4. F3: remedy vs no remedy, paired runs",
    "data_size_sweep": "5. F3: data-size sweep",
    "bias_vs_forgetting_frontier": "6. Bias vs overall forgetting frontier",
    "trajectory_forgetting": "7. Training trajectories",
    "findings": "1. Findings (findings.md)",
    "runs": "2. Runs (tidy table)",
    "data dictionary": "3. Data dictionary",
}


def downstream_results():
    base = [
        result(paths.DOWNSTREAM_BASE, model=model, task=task, dseed=dseed)
        for model in config["models"]
        for task in TASKS
        for dseed in DOWNSTREAM_SEEDS
    ]
    tuned = [
        result(paths.DOWNSTREAM_FINETUNED, **run.wildcards(), task=task, dseed=dseed)
        for run in RUNS
        for task in TASKS
        for dseed in DOWNSTREAM_SEEDS
    ]
    return base + tuned


def eval_results():
    base = [result(paths.EVAL_BASE, model=model) for model in config["models"]]
    return base + run_paths(paths.EVAL_FINETUNED)


def model_sidecars():
    return [result(paths.BASE_SIDECAR, model=model) for model in config["models"]] + run_paths(paths.FINETUNED_SIDECAR)


def figure_files(ext):
    return [result(paths.FIGURE, name=name, ext=ext) for name in FIGURES]


def final_outputs():
    figures = [result(paths.FIGURE, name=name, ext=ext) for name in [VERDICTS, *FIGURES] for ext in ("png", "pdf")]
    return [result(paths.TABLE_PARQUET), result(paths.TABLE_CSV), result(paths.FINDINGS)] + figures
