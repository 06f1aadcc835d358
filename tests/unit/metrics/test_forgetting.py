"""Forgetting statistics (fairforget.metrics.forgetting) on hand-computed cases and a swap property."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from fairforget.metrics.bootstrap import BootstrapSettings
from fairforget.metrics.forgetting import forgetting_statistics
from fairforget.scoring.scores import TextScores

BOOT = BootstrapSettings(samples=200, seed=0)


def scores(logprobs, correct):
    return TextScores(
        token_index=[np.arange(len(lp)) for lp in logprobs],
        token_id=[np.arange(len(lp)) for lp in logprobs],
        logprob=[np.array(lp, float) for lp in logprobs],
        correct=[np.array(c, bool) for c in correct],
    )


def test_forgetting_statistics_hand_computed():
    base = scores([[-1.0, -2.0], [-1.0], []], [[True, False], [True], []])
    tuned = scores([[-2.0, -2.0], [-0.5], []], [[False, False], [True], []])
    kl = [np.array([0.1, 0.3]), np.array([0.4]), np.array([])]
    stats = forgetting_statistics(base, tuned, BOOT, threshold=0.5, kl=kl)
    assert stats["mean_loss_change"].value == pytest.approx(0.0)  # (+0.5 - 0.5) / 2; empty text left out
    assert stats["mean_loss_change"].n == 2
    assert stats["base_mean_loss"].value == pytest.approx(1.25)
    assert stats["base_perplexity"].value == pytest.approx(math.exp(4 / 3))
    assert stats["tuned_perplexity"].value == pytest.approx(math.exp(1.5))
    assert stats["base_token_accuracy"].value == pytest.approx(2 / 3)
    assert stats["tuned_token_accuracy"].value == pytest.approx(1 / 3)
    assert (stats["token_forgetting_rate"].value, stats["token_forgetting_rate"].n) == (0.5, 2)
    assert stats["token_forgotten_count"].value == 1
    assert (stats["token_learning_rate"].value, stats["token_learning_rate"].n) == (0.0, 1)
    assert (stats["example_forgetting_rate"].value, stats["example_forgetting_rate"].n) == (0.5, 2)
    assert stats["example_forgotten_count"].value == 1
    assert stats["mean_kl"].value == pytest.approx(0.3)
    # a stricter threshold: example 0 (accuracy 0.5) is no longer correct under the base model
    strict = forgetting_statistics(base, tuned, BOOT, threshold=0.75)
    assert (strict["example_forgetting_rate"].value, strict["example_forgetting_rate"].n) == (0.0, 1)
    assert "mean_kl" not in strict


@hyp_settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.lists(st.tuples(st.floats(-8, 0), st.floats(-8, 0), st.booleans(), st.booleans()), min_size=1, max_size=6),
        min_size=1,
        max_size=6,
    )
)
def test_forgetting_statistics_swap_base_and_tuned(texts):
    """Swapping the models negates the loss change and exchanges forgetting with learning."""
    base = scores([[t[0] for t in text] for text in texts], [[t[2] for t in text] for text in texts])
    tuned = scores([[t[1] for t in text] for text in texts], [[t[3] for t in text] for text in texts])
    forward = forgetting_statistics(base, tuned, BootstrapSettings(samples=20, seed=0))
    backward = forgetting_statistics(tuned, base, BootstrapSettings(samples=20, seed=0))
    assert forward["mean_loss_change"].value == pytest.approx(-backward["mean_loss_change"].value, abs=1e-9)
    assert forward["token_forgotten_count"].value == backward["token_learned_count"].value
    assert forward["token_learned_count"].value == backward["token_forgotten_count"].value
    assert forward["base_perplexity"].value == pytest.approx(backward["tuned_perplexity"].value)
    base_correct = sum(int(t[2]) for text in texts for t in text)
    assert forward["token_forgotten_count"].value <= base_correct
    assert forward["token_forgetting_rate"].n == base_correct
