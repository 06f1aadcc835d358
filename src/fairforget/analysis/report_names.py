"""The names of the analysis figures and their labels in the Snakemake HTML report (no plotting imports: the
workflow reads this module when it parses rules/analysis.smk)."""

from __future__ import annotations

# The figures rule's figures, in the order it draws them.
FIGURE_NAMES = (
    "downstream_vs_overall_forgetting",
    "selective_vs_overall_forgetting",
    "remedies_paired",
    "bias_vs_forgetting_frontier",
    "trajectory_forgetting",
    "data_size_sweep",
)
# The findings rule's figure: the three verdicts, drawn from the same findings as findings.md.
VERDICTS = "verdicts"
# The report lists a category's results sorted by label: the verdicts first, then the claims in order.
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
