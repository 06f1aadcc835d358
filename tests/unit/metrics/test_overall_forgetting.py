"""Overall forgetting (fairforget.metrics.overall_forgetting): the forgetting statistics of the held-out general
text, by hand, and only with base scores to compare with."""

from __future__ import annotations

import numpy as np
import pytest

from fairforget.errors import ConfigError
from fairforget.metrics.base import HELDOUT, METRICS, EvaluationData, EvaluationSettings, MetricContext, ModelScores
from fairforget.metrics.bootstrap import BootstrapSettings
from fairforget.scoring.scores import TextScores

SETTINGS = EvaluationSettings(bootstrap=BootstrapSettings(samples=200, seed=0))


def heldout(logprobs: list[list[float]], correct: list[list[bool]]) -> ModelScores:
    scores = TextScores(
        [np.arange(len(lp)) for lp in logprobs],
        [np.arange(len(lp)) for lp in logprobs],
        [np.array(lp, float) for lp in logprobs],
        [np.array(c, bool) for c in correct],
    )
    return ModelScores("causal", {HELDOUT: scores})


def test_it_reads_the_heldout_set_and_compares_with_the_base() -> None:
    metric = METRICS.get("overall_forgetting")()
    assert metric.requires(SETTINGS) == {HELDOUT} and metric.compares
    base = heldout([[-1.0, -1.0], [-2.0]], [[True, True], [True]])
    tuned = heldout([[-2.0, -1.0], [-2.0]], [[False, True], [True]])
    ctx = MetricContext(kind="causal", data=EvaluationData(), settings=SETTINGS, scores=tuned, base=base, kl={})
    stats = metric.compute(ctx)
    # per text: (tuned - base) loss per token = (3 - 2) / 2 = 0.5 and 0; mean 0.25
    assert stats["mean_loss_change"].value == pytest.approx(0.25)
    # one of the three base-correct tokens is wrong after tuning
    assert stats["token_forgetting_rate"].value == pytest.approx(1 / 3)
    assert stats["base_perplexity"].value == pytest.approx(np.exp(4 / 3))


def test_without_base_scores_it_names_itself() -> None:
    scores = heldout([[-1.0]], [[True]])
    ctx = MetricContext(kind="causal", data=EvaluationData(), settings=SETTINGS, scores=scores, base=None, kl={})
    with pytest.raises(ConfigError, match="metric 'overall_forgetting' compares with the base model"):
        METRICS.get("overall_forgetting")().compute(ctx)
