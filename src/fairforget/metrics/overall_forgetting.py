"""Overall forgetting: loss of general LM ability on held-out general text (WikiText-2 test)."""

from __future__ import annotations

from fairforget.metrics.base import HELDOUT, METRICS, EvaluationSettings, Metric, MetricContext
from fairforget.metrics.bootstrap import MetricValue
from fairforget.metrics.forgetting import forgetting_statistics


@METRICS.register("overall_forgetting")
class OverallForgetting(Metric):
    compares = True

    def requires(self, settings: EvaluationSettings) -> set[str]:
        return {HELDOUT}

    def compute(self, ctx: MetricContext) -> dict[str, MetricValue]:
        base = ctx.require_base("overall_forgetting")
        return forgetting_statistics(
            base.token_sets[HELDOUT],
            ctx.scores.token_sets[HELDOUT],
            ctx.settings.bootstrap,
            threshold=ctx.settings.example_correct_threshold,
            kl=ctx.kl.get(HELDOUT),
        )
