"""GLUE metrics against hand-computed values and sklearn's documented degenerate cases."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fairforget.errors import ConfigError, DataError
from fairforget.metrics.bootstrap import BootstrapSettings
from fairforget.metrics.glue import (
    accuracy,
    binary_f1,
    canonical_metric,
    matthews_corrcoef,
    metric_intervals,
    pearson,
    spearman,
    task_metric_names,
)

PRED = [1, 1, 0, 0, 1]
GOLD = [1, 0, 0, 1, 1]  # TP=2 (items 0, 4), FP=1 (item 1), TN=1 (item 2), FN=1 (item 3)


def test_accuracy_by_hand():
    assert accuracy([0, 1, 1, 0], [0, 1, 0, 0]) == 0.75
    assert accuracy(PRED, GOLD) == 3 / 5


def test_binary_f1_by_hand():
    assert binary_f1(PRED, GOLD) == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))
    # no true and no predicted positives: sklearn's zero_division default gives 0.0
    assert binary_f1([0, 0, 0], [0, 0, 0]) == 0.0
    assert binary_f1([1, 1], [1, 1]) == 1.0


def test_mcc_binary_by_hand():
    # (TP*TN - FP*FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN)) = (2 - 1) / sqrt(3*3*2*2) = 1/6
    assert matthews_corrcoef(PRED, GOLD) == pytest.approx(1 / 6)
    assert matthews_corrcoef([0, 1, 0, 1], [0, 1, 0, 1]) == pytest.approx(1.0)
    assert matthews_corrcoef([1, 0, 1, 0], [0, 1, 0, 1]) == pytest.approx(-1.0)


def test_mcc_degenerate_constant_column_is_zero():
    assert matthews_corrcoef([1, 1, 1, 1], [0, 1, 0, 1]) == 0.0
    assert matthews_corrcoef([0, 1, 0, 1], [1, 1, 1, 1]) == 0.0


def test_mcc_multiclass_by_hand():
    # c=3, s=4, t=[1,2,1], p=[1,1,2]: (3*4 - 5) / sqrt((16-6)(16-6)) = 0.7
    assert matthews_corrcoef([0, 1, 2, 2], [0, 1, 1, 2]) == pytest.approx(0.7)


@given(st.lists(st.tuples(st.integers(0, 1), st.integers(0, 1)), min_size=1, max_size=60))
def test_mcc_binary_equals_textbook_formula(pairs):
    pred = [p for p, _ in pairs]
    gold = [g for _, g in pairs]
    tp = sum(p == 1 and g == 1 for p, g in pairs)
    tn = sum(p == 0 and g == 0 for p, g in pairs)
    fp = sum(p == 1 and g == 0 for p, g in pairs)
    fn = sum(p == 0 and g == 1 for p, g in pairs)
    denominator = (tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)
    expected = 0.0 if denominator == 0 else (tp * tn - fp * fn) / math.sqrt(denominator)
    assert matthews_corrcoef(pred, gold) == pytest.approx(expected, abs=1e-12)


def test_pearson_by_hand():
    # dx=[-1,0,1], dy=[-4/3,-1/3,5/3]: sum dx*dy = 3, sxx = 2, syy = 42/9
    assert pearson([1, 2, 3], [1, 2, 4]) == pytest.approx(3 / math.sqrt(2 * 42 / 9))


def test_spearman_with_ties_by_hand():
    # ranks x = [1, 2.5, 2.5, 4], y = [1, 3, 2, 4]: 4.5 / sqrt(4.5 * 5)
    assert spearman([1, 2, 2, 3], [1, 3, 2, 4]) == pytest.approx(4.5 / math.sqrt(4.5 * 5))


def test_correlations_of_a_constant_column_are_nan():
    assert math.isnan(pearson([1, 1, 1], [1, 2, 3]))
    assert math.isnan(spearman([1, 2, 3], [2, 2, 2]))


def test_bad_input_is_refused():
    with pytest.raises(DataError):
        accuracy([1, 0], [1])
    with pytest.raises(DataError):
        accuracy([], [])


def test_task_metric_names_follow_glue():
    assert task_metric_names("cola", "mcc", False) == ("mcc", "accuracy")
    assert task_metric_names("mrpc", "f1", False) == ("f1", "accuracy")
    assert task_metric_names("sst2", "accuracy", False) == ("accuracy",)
    assert task_metric_names("stsb", "pearson", True) == ("pearson", "spearman")
    with pytest.raises(ConfigError, match="regression"):
        task_metric_names("stsb", "accuracy", True)


def test_metric_aliases():
    assert canonical_metric("matthews_correlation", "meta.json") == "mcc"
    assert canonical_metric("Accuracy", "meta.json") == "accuracy"
    with pytest.raises(DataError, match="meta.json.*bleu"):
        canonical_metric("bleu", "meta.json")


def test_metric_intervals_bracket_the_value_and_are_seeded():
    pred = [1, 0, 1, 1, 0, 0, 1, 0, 1, 1] * 3
    gold = [1, 0, 0, 1, 0, 1, 1, 0, 1, 0] * 3
    settings = BootstrapSettings(samples=300, seed=5)
    first = metric_intervals(("accuracy", "mcc", "f1"), pred, gold, settings)
    assert first == metric_intervals(("accuracy", "mcc", "f1"), pred, gold, settings)
    assert first["accuracy"].value == accuracy(pred, gold) == 0.7
    assert first["mcc"].value == pytest.approx(matthews_corrcoef(pred, gold))
    for value in first.values():
        assert value.ci_low < value.value < value.ci_high and value.n == 30
    perfect = metric_intervals(("accuracy",), gold, gold, settings)["accuracy"]
    assert (perfect.ci_low, perfect.value, perfect.ci_high) == (1.0, 1.0, 1.0)
