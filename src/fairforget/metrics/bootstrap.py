"""Percentile bootstrap confidence intervals over resampling units (texts, pairs, items).

Every statistic is resampled over its natural unit (a text, a probe pair, a StereoSet cluster, a trajectory
item), never over tokens, because tokens of one text are not independent. With the same seed every statistic
over the same units sees the same resamples, so differences between statistics are paired.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

# Vectorised statistics receive a [replicates, n] index matrix; chunks bound its memory.
_CHUNK = 256


@dataclass(frozen=True)
class MetricValue:
    """One reported figure: point estimate, 95% percentile-bootstrap interval and number of units."""

    value: float
    ci_low: float
    ci_high: float
    n: int

    def to_json(self) -> dict[str, Any]:
        def clean(x: float) -> float | None:
            return None if x is None or not math.isfinite(x) else float(x)

        return {
            "value": clean(self.value),
            "ci_low": clean(self.ci_low),
            "ci_high": clean(self.ci_high),
            "n": int(self.n),
        }

    @classmethod
    def exact(cls, value: float, n: int) -> MetricValue:
        """An exact figure (a count, a p-value computed exactly): its interval is the value itself."""
        return cls(float(value), float(value), float(value), int(n))


@dataclass(frozen=True)
class BootstrapSettings:
    samples: int = 1000
    seed: int = 0
    level: float = 0.95


def percentile_interval(replicates: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of the finite replicates (NaN when none is finite)."""
    finite = replicates[np.isfinite(replicates)]
    if finite.size == 0:
        return math.nan, math.nan
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(finite, [tail, 100.0 - tail])
    return float(low), float(high)


def _resamples(n: int, settings: BootstrapSettings) -> Iterator[tuple[int, np.ndarray]]:
    """(first replicate's position, [chunk, n] resampled unit indices) of `settings.samples` replicates from one
    stream seeded by `settings.seed`: every statistic bootstrapped over the same n units sees the same resamples."""
    rng = np.random.default_rng(settings.seed)
    done = 0
    while done < settings.samples:
        size = min(_CHUNK, settings.samples - done)
        yield done, rng.integers(0, n, size=(size, n))
        done += size


def estimate(
    statistic: Callable[[np.ndarray], np.ndarray | float],
    n: int,
    settings: BootstrapSettings,
    vectorized: bool = True,
) -> MetricValue:
    """Point estimate on all n units and a percentile bootstrap CI.

    Vectorised statistics map an index array of shape [..., n] to values of shape [...]; otherwise the
    statistic is called once per replicate with a 1-D index array.
    """
    if n == 0:
        return MetricValue(math.nan, math.nan, math.nan, 0)
    everything = np.arange(n)
    value = float(np.asarray(statistic(everything[None, :]))[0] if vectorized else statistic(everything))
    replicates = np.empty(settings.samples, np.float64)
    for done, idx in _resamples(n, settings):
        replicates[done : done + len(idx)] = statistic(idx) if vectorized else [statistic(row) for row in idx]
    low, high = percentile_interval(replicates, settings.level)
    return MetricValue(value, low, high, n)


def estimate_each(
    statistics: Callable[[np.ndarray], Sequence[float]], k: int, n: int, settings: BootstrapSettings
) -> list[MetricValue]:
    """`estimate(lambda idx: statistics(idx)[i], n, settings, vectorized=False)` for each i < k, with one call
    of `statistics` per replicate instead of k: the same resamples (one seeded stream), the same values."""
    if n == 0:
        return [MetricValue(math.nan, math.nan, math.nan, 0) for _ in range(k)]
    values = [float(v) for v in statistics(np.arange(n))]
    replicates = np.empty((settings.samples, k), np.float64)
    for done, idx in _resamples(n, settings):
        replicates[done : done + len(idx)] = [statistics(row) for row in idx]
    return [
        MetricValue(values[i], *percentile_interval(np.ascontiguousarray(replicates[:, i]), settings.level), n)
        for i in range(k)
    ]


def _safe_divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1), np.nan)


def mean_estimate(values: np.ndarray, settings: BootstrapSettings, scale: float = 1.0) -> MetricValue:
    """Mean of per-unit values (times `scale`, e.g. 100 for percentages)."""
    values = np.asarray(values, np.float64)
    return estimate(lambda idx: values[idx].mean(axis=-1) * scale, len(values), settings)


def ratio_estimate(
    numerator: np.ndarray,
    denominator: np.ndarray,
    settings: BootstrapSettings,
    transform: Callable[[np.ndarray], np.ndarray] | None = None,
    n: int | None = None,
) -> MetricValue:
    """sum(numerator) / sum(denominator) over units (optionally transformed, e.g. exp for perplexity).

    `n` reported defaults to the number of units; NaN when the denominator sums to zero.
    """
    numerator = np.asarray(numerator, np.float64)
    denominator = np.asarray(denominator, np.float64)

    def statistic(idx: np.ndarray) -> np.ndarray:
        ratio = _safe_divide(numerator[idx].sum(axis=-1), denominator[idx].sum(axis=-1))
        return transform(ratio) if transform is not None else ratio

    result = estimate(statistic, len(numerator), settings)
    return result if n is None else MetricValue(result.value, result.ci_low, result.ci_high, n)


def sum_estimate(values: np.ndarray, settings: BootstrapSettings) -> MetricValue:
    """A count (sum over units) with its bootstrap interval."""
    values = np.asarray(values, np.float64)
    return estimate(lambda idx: values[idx].sum(axis=-1), len(values), settings)
