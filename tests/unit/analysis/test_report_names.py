"""Figure names and report labels (fairforget.analysis.report_names): every figure the rules draw has a label in
the HTML report, labels are unique within a category, and the order they sort into is the claims' order."""

from __future__ import annotations

from fairforget.analysis.report_names import FIGURE_NAMES, REPORT_LABELS, VERDICTS


def test_every_figure_has_a_report_label() -> None:
    assert set(FIGURE_NAMES) | {VERDICTS} <= set(REPORT_LABELS)
    assert len(set(FIGURE_NAMES)) == len(FIGURE_NAMES) == 6


def test_figure_labels_sort_verdicts_first_then_the_claims_in_order() -> None:
    figures = sorted(REPORT_LABELS[name] for name in (VERDICTS, *FIGURE_NAMES))
    assert len(set(figures)) == 7
    assert figures[0] == "1. Verdicts on F1, F2, F3"
    assert [label.split(".")[0] for label in figures] == [str(i) for i in range(1, 8)]
    assert [label for label in figures if "F1" in label or "F2" in label or "F3" in label][1:] == [
        REPORT_LABELS["downstream_vs_overall_forgetting"],
        REPORT_LABELS["selective_vs_overall_forgetting"],
        REPORT_LABELS["remedies_paired"],
        REPORT_LABELS["data_size_sweep"],
    ]
