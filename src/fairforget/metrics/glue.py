"""GLUE dev-set metrics, defined as GLUE / scikit-learn / scipy define them (without depending on sklearn).

Degenerate cases follow scikit-learn and scipy:
- `binary_f1`: F1 of the positive class (label 1); 0.0 when there are no true and no predicted positives
  (sklearn's `zero_division` default).
- `matthews_corrcoef`: the multiclass (Gorodkin) form sklearn uses; 0.0 when the denominator is zero,
  i.e. when the predictions or the labels are all one class.
- `pearson` / `spearman`: NaN when either column is constant (the coefficient is undefined; scipy also
  returns NaN). Spearman ranks ties by their average rank, as scipy does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from fairforget.errors import ConfigError, DataError
from fairforget.metrics.bootstrap import BootstrapSettings, MetricValue, estimate

#: The official GLUE metrics per task (GLUE paper, Table 1); the first is the headline metric.
GLUE_TASK_METRICS: dict[str, tuple[str, ...]] = {
    "cola": ("mcc",),
    "sst2": ("accuracy",),
    "mrpc": ("f1", "accuracy"),
    "qqp": ("f1", "accuracy"),
    "stsb": ("pearson", "spearman"),
    "mnli": ("accuracy",),
    "qnli": ("accuracy",),
    "rte": ("accuracy",),
    "wnli": ("accuracy",),
}

#: Names a task's meta.json may use for its metric, mapped to the names used here.
METRIC_ALIASES: dict[str, str] = {
    "accuracy": "accuracy",
    "acc": "accuracy",
    "f1": "f1",
    "mcc": "mcc",
    "matthews": "mcc",
    "matthews_correlation": "mcc",
    "matthews_corrcoef": "mcc",
    "pearson": "pearson",
    "pearsonr": "pearson",
    "spearman": "spearman",
    "spearmanr": "spearman",
}

CLASSIFICATION_METRICS = ("accuracy", "f1", "mcc")
REGRESSION_METRICS = ("pearson", "spearman")


def _pair(predictions: Sequence[float], labels: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    pred = np.asarray(predictions)
    gold = np.asarray(labels)
    if pred.shape != gold.shape or pred.ndim != 1:
        raise DataError(f"predictions {pred.shape} and labels {gold.shape} must be 1-d of equal length")
    if pred.size == 0:
        raise DataError("cannot score an empty prediction set")
    return pred, gold


def accuracy(predictions: Sequence[int], labels: Sequence[int]) -> float:
    pred, gold = _pair(predictions, labels)
    return float(np.mean(pred == gold))


def binary_f1(predictions: Sequence[int], labels: Sequence[int], positive: int = 1) -> float:
    pred, gold = _pair(predictions, labels)
    true_pos = int(np.sum((pred == positive) & (gold == positive)))
    false_pos = int(np.sum((pred == positive) & (gold != positive)))
    false_neg = int(np.sum((pred != positive) & (gold == positive)))
    denominator = 2 * true_pos + false_pos + false_neg
    return 0.0 if denominator == 0 else 2 * true_pos / denominator


def matthews_corrcoef(predictions: Sequence[int], labels: Sequence[int]) -> float:
    """MCC from the confusion matrix: (c*s - t.p) / sqrt((s^2 - p.p)(s^2 - t.t)), as sklearn computes it."""
    pred, gold = _pair(predictions, labels)
    classes = np.union1d(pred, gold)
    true_counts = np.array([np.sum(gold == k) for k in classes], dtype=np.float64)
    pred_counts = np.array([np.sum(pred == k) for k in classes], dtype=np.float64)
    correct = float(np.sum(pred == gold))
    samples = float(pred.size)
    cov_true_pred = correct * samples - float(true_counts @ pred_counts)
    cov_pred_pred = samples**2 - float(pred_counts @ pred_counts)
    cov_true_true = samples**2 - float(true_counts @ true_counts)
    if cov_pred_pred * cov_true_true == 0:
        return 0.0
    return cov_true_pred / math.sqrt(cov_pred_pred * cov_true_true)


def _constant(values: np.ndarray) -> bool:
    return bool(np.all(values == values[0]))


def pearson(predictions: Sequence[float], labels: Sequence[float]) -> float:
    pred, gold = _pair(predictions, labels)
    if pred.size < 2 or _constant(pred) or _constant(gold):
        return math.nan
    from scipy import stats  # lazily: scipy.stats takes a second to import and only STS-B needs it

    return float(stats.pearsonr(pred.astype(np.float64), gold.astype(np.float64)).statistic)


def spearman(predictions: Sequence[float], labels: Sequence[float]) -> float:
    pred, gold = _pair(predictions, labels)
    if pred.size < 2 or _constant(pred) or _constant(gold):
        return math.nan
    from scipy import stats

    return float(stats.spearmanr(pred.astype(np.float64), gold.astype(np.float64)).statistic)


METRIC_FUNCTIONS = {
    "accuracy": accuracy,
    "f1": binary_f1,
    "mcc": matthews_corrcoef,
    "pearson": pearson,
    "spearman": spearman,
}


def canonical_metric(name: str, where: str) -> str:
    """Map a metric name from a task's meta.json (`where` names the file) to its canonical name."""
    canonical = METRIC_ALIASES.get(str(name).lower())
    if canonical is None:
        raise DataError(f"{where}: unknown metric {name!r}; known: {', '.join(sorted(METRIC_ALIASES))}")
    return canonical


def task_metric_names(task: str, primary: str, is_regression: bool, listed: Sequence[str] = ()) -> tuple[str, ...]:
    """The metrics reported for a task: its primary metric first, then `listed` (canonical names from the
    task's meta.json), then GLUE's official ones.

    Classification tasks always also report accuracy (so every task has a comparable column).
    """
    names = [primary, *listed, *GLUE_TASK_METRICS.get(task, ())]
    if not is_regression:
        names.append("accuracy")
    allowed = REGRESSION_METRICS if is_regression else CLASSIFICATION_METRICS
    bad = [name for name in names if name not in allowed]
    if bad:
        kind = "regression" if is_regression else "classification"
        raise ConfigError(f"task '{task}': metric(s) {', '.join(bad)} do not apply to a {kind} task")
    return tuple(dict.fromkeys(names))


def compute_metrics(names: Sequence[str], predictions: Sequence[float], labels: Sequence[float]) -> dict[str, float]:
    return {name: METRIC_FUNCTIONS[name](predictions, labels) for name in names}  # type: ignore[arg-type]


def _metric_on(fn: Any, pred: np.ndarray, gold: np.ndarray) -> Any:
    """The metric `fn` on the dev examples of an index array."""
    return lambda idx: fn(pred[idx], gold[idx])


def metric_intervals(
    names: Sequence[str],
    predictions: Sequence[float],
    labels: Sequence[float],
    settings: BootstrapSettings | None = None,
) -> dict[str, MetricValue]:
    """Each metric on the whole dev set with a percentile-bootstrap interval over dev examples.

    The interval reflects dev-set sampling only (not fine-tuning seed variance, which the analysis sees across
    downstream seeds). With one bootstrap seed every metric sees the same resamples; replicates where a metric
    is undefined (NaN, e.g. a constant column) are left out of its interval.
    """
    settings = settings or BootstrapSettings()
    pred, gold = _pair(predictions, labels)
    return {
        name: estimate(_metric_on(METRIC_FUNCTIONS[name], pred, gold), pred.size, settings, vectorized=False)
        for name in names
    }
