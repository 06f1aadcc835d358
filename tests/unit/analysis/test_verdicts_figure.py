"""The verdicts figure (fairforget.analysis.verdicts_figure): an F3 block states its own metric's verdict."""

from __future__ import annotations

from fairforget.analysis.claims import ArmTest, Finding, remedies_verdict
from fairforget.analysis.settings import AnalysisSettings
from fairforget.analysis.verdicts_figure import verdict_blocks

SETTINGS = AnalysisSettings(permutations=199)


def test_f3_blocks_state_their_own_metric_verdict():
    """One remedy lowers overall forgetting (Holm p 0.01: F3 contradicted) and is equivalent to no effect on
    downstream (TOST p 0.01): the downstream block must not read as a contradiction of its own."""
    arms = [
        ArmTest(
            "l2sp",
            "overall_forgetting.mean_loss_change",
            -1,
            "paired",
            8,
            estimate=-0.02,
            ci=(-0.03, -0.01),
            p_holm=0.01,
            margins={"bert": 0.01, "llama": 0.01},
            p_tost=0.9,
        ),
        ArmTest(
            "l2sp",
            "downstream.mean_change",
            1,
            "paired",
            8,
            estimate=0.001,
            ci=(-0.004, 0.006),
            p_holm=0.8,
            margins={"bert": 0.01, "llama": 0.01},
            p_tost=0.01,
        ),
    ]
    finding = Finding("F3", "remedies", "rule", verdict=remedies_verdict(arms, SETTINGS.alpha)[0], arms=arms)
    assert finding.verdict == "contradicts"
    blocks = verdict_blocks([finding], SETTINGS)
    assert [b.verdict for b in blocks] == ["contradicts", "contradicts"]  # the title: F3 over every metric
    assert [b.extra[0].split(" (")[0] for b in blocks] == [
        "This metric alone: contradicts",
        "This metric alone: supports",
    ]
