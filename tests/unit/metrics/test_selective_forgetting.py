"""Selective forgetting (fairforget.metrics.selective_forgetting): preference flips by hand, and the tokens it
scores."""

from __future__ import annotations

import numpy as np
import pytest

from fairforget.metrics.base import EvaluationSettings
from fairforget.metrics.bootstrap import BootstrapSettings
from fairforget.metrics.selective_forgetting import preference_flips
from fairforget.scoring.scores import TextScores

SETTINGS = EvaluationSettings(bootstrap=BootstrapSettings(samples=200, seed=0))


def test_preference_flips_hand_computed():
    flips = preference_flips(np.array([True, True, False, False]), np.array([False, True, True, False]), SETTINGS)
    assert (flips["flips_to_anti_rate"].value, flips["flips_to_anti_rate"].n) == (0.5, 2)
    assert flips["flips_to_anti_count"].value == 1
    assert flips["flips_to_stereo_rate"].value == 0.5 and flips["flips_to_stereo_count"].value == 1


def _pair_scores(stereo_lp, anti_lp, stereo_ok, anti_ok):
    """One planted pair: "the nurse said she left" (she = 7) vs "... he left" (he = 8), token 2 differs."""

    def side(ids, lp, ok):
        return TextScores([np.arange(4)], [np.array(ids)], [np.array(lp, float)], [np.array(ok, bool)])

    return {
        "planted.stereo": side([1, 2, 7, 4], stereo_lp, stereo_ok),
        "planted.anti": side([1, 2, 8, 4], anti_lp, anti_ok),
    }


@pytest.mark.parametrize("kind", ["masked", "causal"])
def test_selective_forgetting_scores_the_tokens_of_the_pair_preference(kind):
    from fairforget.metrics.base import EvaluationData, MetricContext, ModelScores
    from fairforget.metrics.selective_forgetting import SelectiveForgetting

    base = ModelScores(kind, _pair_scores([-1, -1, -0.5, -1], [-1, -1, -2, -1], [1, 1, 1, 1], [1, 1, 0, 1]))
    # tuned: the stereotypical pronoun loses 2 nats and so does its context; the anti pronoun gains 1 nat
    tuned = ModelScores(kind, _pair_scores([-3, -3, -2.5, -3], [-1, -1, -1, -1], [1, 1, 0, 1], [1, 1, 1, 1]))
    kl = {"planted.stereo": [np.array([0.1, 0.1, 0.5, 0.1])], "planted.anti": [np.array([0.0, 0.0, 0.2, 0.0])]}
    ctx = MetricContext(kind=kind, data=EvaluationData(), settings=SETTINGS, scores=tuned, base=base, kl=kl)
    stats = SelectiveForgetting().compute(ctx)
    if kind == "masked":  # the pronoun alone, as the planted preference scores it
        expected = {
            "stereo_mean_loss_change": 2.0,
            "anti_mean_loss_change": -1.0,
            "stereo_token_forgetting_rate": 1.0,
            "stereo_mean_kl": 0.5,
            "anti_token_learning_rate": 1.0,
        }
    else:  # every token, as the causal preference scores it
        expected = {
            "stereo_mean_loss_change": 2.0,
            "anti_mean_loss_change": -0.25,
            "stereo_token_forgetting_rate": 0.25,
            "stereo_mean_kl": 0.2,
            "anti_token_learning_rate": 1.0,
        }
    for name, value in expected.items():
        assert stats[name].value == pytest.approx(value), name
    assert stats["stereo_minus_anti_loss_change"].value == pytest.approx(
        expected["stereo_mean_loss_change"] - expected["anti_mean_loss_change"]
    )
    # base prefers the stereotype (masked: -0.5 > -2; causal mean: -0.875 > -1.25), tuned does not: one flip
    assert (stats["flips_to_anti_rate"].value, stats["flips_to_anti_rate"].n) == (1.0, 1)
    assert stats["flips_to_anti_count"].value == 1
