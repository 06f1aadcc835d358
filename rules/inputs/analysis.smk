# Stage 6 (rules/analysis.smk): every result the analysis reads, and the products of the workflow.
from fairforget.fusion import settings as fusion
from fairforget.analysis.report_names import FIGURE_NAMES, REPORT_LABELS, VERDICTS

# The figures rule's figures; the findings rule draws VERDICTS. REPORT_LABELS orders the HTML report.
FIGURES = list(FIGURE_NAMES)


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


def fusion_table_input():
    """The fusion table (rules/fusion.smk), for the findings and figures rules: none when nothing is fused."""
    fused = fusion.fused_runs(fusion.FusionSettings.from_config(config), RUNS)
    return [result(fusion.FUSION_TABLE_PARQUET)] if fused else []


def figure_files(ext):
    return [result(paths.FIGURE, name=name, ext=ext) for name in FIGURES]


def final_outputs():
    figures = [result(paths.FIGURE, name=name, ext=ext) for name in [VERDICTS, *FIGURES] for ext in ("png", "pdf")]
    return [result(paths.TABLE_PARQUET), result(paths.TABLE_CSV), result(paths.FINDINGS)] + figures
