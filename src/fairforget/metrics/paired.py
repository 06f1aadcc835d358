"""Item-level paired statistics of a bias score's change, fine-tuned checkpoint against its base.

The same items (pairs, StereoSet clusters) are scored by both models, so the change is estimated on paired
items: a change of 2 points on 262 pairs is not reported with the confidence of one on 20.

- `paired_change`: tuned minus base value of the score, with a 95% percentile bootstrap interval that resamples
  *items* and recomputes both models' score on the same resample (docs/metrics.md §2: PCG64 seeded by
  `evaluation.bootstrap_seed`).
- `flips_to_anti`, `flips_to_stereo`: items preferring the stereotype under the base and not under the tuned
  model, and the reverse (exact counts; n = items).
- `mcnemar_p`: exact two-sided McNemar test (McNemar 1947; the exact binomial form, e.g. Fagerland et al. 2013)
  of "no change in the share preferring the stereotype": with b = flips_to_anti, c = flips_to_stereo,
  p = min(1, 2 * P[Binomial(b + c, 1/2) <= min(b, c)]); p = 1 when no item flipped. n = b + c.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from fairforget.metrics.bootstrap import BootstrapSettings, MetricValue, estimate


def mcnemar_exact_p(to_anti: int, to_stereo: int) -> float:
    """Exact two-sided McNemar p-value from the two discordant counts."""
    flipped = to_anti + to_stereo
    if flipped == 0:
        return 1.0
    smaller = min(to_anti, to_stereo)
    tail = sum(math.comb(flipped, k) for k in range(smaller + 1)) / 2.0**flipped
    return min(1.0, 2.0 * tail)


def flip_statistics(base_prefers: np.ndarray, tuned_prefers: np.ndarray) -> dict[str, MetricValue]:
    """flips_to_anti, flips_to_stereo (exact counts over the items) and the exact McNemar p-value."""
    base_prefers, tuned_prefers = np.asarray(base_prefers, bool), np.asarray(tuned_prefers, bool)
    to_anti = int(np.count_nonzero(base_prefers & ~tuned_prefers))
    to_stereo = int(np.count_nonzero(~base_prefers & tuned_prefers))
    return {
        "flips_to_anti": MetricValue.exact(to_anti, len(base_prefers)),
        "flips_to_stereo": MetricValue.exact(to_stereo, len(base_prefers)),
        "mcnemar_p": MetricValue.exact(mcnemar_exact_p(to_anti, to_stereo), to_anti + to_stereo),
    }


def paired_preference_change(
    base_prefers: np.ndarray, tuned_prefers: np.ndarray, settings: BootstrapSettings
) -> dict[str, MetricValue]:
    """Change in the percentage preferring the stereotype (tuned - base), paired bootstrap CI, and the flips."""
    difference = np.asarray(tuned_prefers, np.float64) - np.asarray(base_prefers, np.float64)
    change = estimate(lambda idx: difference[idx].mean(axis=-1) * 100.0, len(difference), settings)
    return {"paired_change": change, **flip_statistics(base_prefers, tuned_prefers)}


def paired_statistic_change(
    statistic: Callable[[np.ndarray, str], float], n_items: int, settings: BootstrapSettings
) -> MetricValue:
    """statistic(idx, "tuned") - statistic(idx, "base") on the same item resamples (for scores that are not a
    mean over items, e.g. StereoSet's macro SS)."""
    return estimate(lambda idx: statistic(idx, "tuned") - statistic(idx, "base"), n_items, settings, vectorized=False)
