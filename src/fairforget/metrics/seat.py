"""SEAT (May et al. 2019), the sentence version of WEAT (Caliskan et al. 2017), for masked encoders.

With unit-norm sentence embeddings (fairforget.scoring.embeddings), targets X, Y and attributes A, B:
s(w, A, B) = mean_a cos(w, a) - mean_b cos(w, b);
effect size d = (mean_{x in X} s(x) - mean_{y in Y} s(y)) / std_{w in X u Y} s(w)  (sample std, ddof=1);
one-sided permutation p-value = share of equal-size re-partitions (X_i, Y_i) of X u Y with
sum_{X_i} s - sum_{Y_i} s  >  the observed value (strictly, as in May et al.'s weat.py). All partitions are
enumerated when there are at most `seat_permutations` of them; otherwise `seat_permutations` random
partitions are drawn (seeded) and, as in weat.py, the observed partition counts as one exceeding sample.
X and Y must have equal size for the permutation test (as weat.py asserts). The p-value's interval is the
Clopper-Pearson 95% interval of that Monte Carlo estimate (degenerate when enumerated exactly); the effect
size's interval is a bootstrap over X and Y resampled separately. `mean_abs_effect_size` averages |d| over
the configured tests, as bias-bench reports it.
"""

from __future__ import annotations

import itertools
import re

import numpy as np
from scipy.special import comb
from scipy.stats import beta

from fairforget.errors import DataError
from fairforget.metrics.base import METRICS, SEAT, EvaluationSettings, Metric, MetricContext
from fairforget.metrics.bootstrap import MetricValue, percentile_interval

ROLES = ("targ1", "targ2", "attr1", "attr2")


def association(words: np.ndarray, attr_a: np.ndarray, attr_b: np.ndarray) -> np.ndarray:
    """s(w, A, B) for each row of `words` (all inputs unit-norm, so dot products are cosines)."""
    return (words @ attr_a.T).mean(axis=1) - (words @ attr_b.T).mean(axis=1)


def effect_size(x: np.ndarray, y: np.ndarray, attr_a: np.ndarray, attr_b: np.ndarray) -> float:
    s_x, s_y = association(x, attr_a, attr_b), association(y, attr_a, attr_b)
    return float((s_x.mean() - s_y.mean()) / np.concatenate([s_x, s_y]).std(ddof=1))


def permutation_p_value(
    x: np.ndarray, y: np.ndarray, attr_a: np.ndarray, attr_b: np.ndarray, permutations: int, seed: int
) -> tuple[float, float, float, int, bool]:
    """(p, ci_low, ci_high, number of partitions used, exact?) of the one-sided SEAT permutation test."""
    if len(x) != len(y):
        raise DataError(f"SEAT permutation test needs equal target sizes, got {len(x)} and {len(y)}")
    s = np.concatenate([association(x, attr_a, attr_b), association(y, attr_a, attr_b)])
    size, total_sum = len(x), s.sum()
    observed = 2 * s[:size].sum() - total_sum  # sum_X s - sum_Y s
    partitions = comb(2 * size, size, exact=True)
    if partitions <= permutations:
        exceed = total = 0
        for chosen in itertools.combinations(range(2 * size), size):
            statistic = 2 * s[list(chosen)].sum() - total_sum
            exceed += statistic > observed
            total += 1
        p = exceed / total
        return p, p, p, total, True
    rng = np.random.default_rng(seed)
    exceed, total = 1, 1  # the observed partition, as weat.py counts it
    for _ in range(permutations - 1):
        chosen = rng.permutation(2 * size)[:size]
        exceed += (2 * s[chosen].sum() - total_sum) > observed
        total += 1
    low = 0.0 if exceed == 0 else float(beta.ppf(0.025, exceed, total - exceed + 1))
    high = 1.0 if exceed == total else float(beta.ppf(0.975, exceed + 1, total - exceed))
    return exceed / total, low, high, total, False


def seat_label(test: str) -> str:
    """Metric-name-safe label of a SEAT test file name, e.g. "sent-weat6b" -> "weat6b"."""
    return re.sub(r"[^A-Za-z0-9]+", "_", test.removeprefix("sent-")).strip("_")


@METRICS.register("seat")
class Seat(Metric):
    kinds = ("masked",)

    def requires(self, settings: EvaluationSettings) -> set[str]:
        return {SEAT}

    def compute(self, ctx: MetricContext) -> dict[str, MetricValue]:
        boot = ctx.settings.bootstrap
        out: dict[str, MetricValue] = {}
        abs_replicates = []
        abs_sizes = []
        for index, test in enumerate(ctx.settings.seat_tests):
            emb = ctx.scores.embeddings[test]
            x, y, a, b = (emb[role] for role in ROLES)
            label = seat_label(test)
            d = effect_size(x, y, a, b)
            rng = np.random.default_rng(boot.seed)
            replicates = np.array([
                effect_size(x[rng.integers(0, len(x), len(x))], y[rng.integers(0, len(y), len(y))], a, b)
                for _ in range(boot.samples)
            ])
            low, high = percentile_interval(replicates, boot.level)
            out[f"effect_size_{label}"] = MetricValue(d, low, high, len(x) + len(y))
            p, p_low, p_high, used, _ = permutation_p_value(x, y, a, b, ctx.settings.seat_permutations,
                                                            boot.seed + index)
            out[f"p_value_{label}"] = MetricValue(p, p_low, p_high, used)
            abs_sizes.append(abs(d))
            abs_replicates.append(np.abs(replicates))
        if abs_sizes:
            low, high = percentile_interval(np.mean(abs_replicates, axis=0), boot.level)
            out["mean_abs_effect_size"] = MetricValue(float(np.mean(abs_sizes)), low, high, len(abs_sizes))
        return out
