"""SEAT (May et al. 2019), the sentence version of WEAT (Caliskan et al. 2017), for masked encoders.

With unit-norm sentence embeddings (fairforget.scoring.embeddings), targets X, Y and attributes A, B:
s(w, A, B) = mean_a cos(w, a) - mean_b cos(w, b);
effect size d = (mean_{x in X} s(x) - mean_{y in Y} s(y)) / std_{w in X u Y} s(w)  (sample std, ddof=1);
one-sided permutation p-value = share of equal-size re-partitions (X_i, Y_i) of X u Y whose statistic
sum_{X_i} s is >= the observed sum_X s (bias-bench's `weat.py`, "conservative test": ties count, and the
observed partition is one of the partitions, so an exact p-value is at least 1 / C(|X u Y|, |X|)). All
partitions are enumerated when there are at most `seat_permutations` (default 100,000, bias-bench's `n_samples`)
of them; otherwise `seat_permutations - 1` random partitions are drawn (seeded numpy PCG64, not weat.py's
`np.random.shuffle` stream) and, as in weat.py, the observed partition is counted once as a sample
that reaches it. Ranking by sum_{X_i} s is ranking by sum_{X_i} s - sum_{Y_i} s (their sum is fixed), as
weat.py's `s_XAB` notes. X and Y must have equal size for the permutation test (as weat.py asserts). The
p-value's interval is the Clopper-Pearson 95% interval of that Monte Carlo estimate (degenerate when enumerated
exactly); the effect size's interval is a bootstrap over X and Y resampled separately. `mean_abs_effect_size`
averages |d| over the configured tests, as bias-bench reports it.
"""

from __future__ import annotations

import itertools
import re

import numpy as np

from fairforget.errors import DataError
from fairforget.metrics.base import METRICS, SEAT, EvaluationSettings, Metric, MetricContext
from fairforget.metrics.bootstrap import MetricValue, percentile_interval

ROLES = ("targ1", "targ2", "attr1", "attr2")
_DRAW_CHUNK = 4096  # random partitions drawn per vectorised step


def association(words: np.ndarray, attr_a: np.ndarray, attr_b: np.ndarray) -> np.ndarray:
    """s(w, A, B) for each row of `words` (all inputs unit-norm, so dot products are cosines)."""
    return (words @ attr_a.T).mean(axis=1) - (words @ attr_b.T).mean(axis=1)


def effect_size(x: np.ndarray, y: np.ndarray, attr_a: np.ndarray, attr_b: np.ndarray) -> float:
    return effect_of_associations(association(x, attr_a, attr_b), association(y, attr_a, attr_b))


def effect_of_associations(s_x: np.ndarray, s_y: np.ndarray) -> float:
    """d from the targets' associations s(x), s(y) (module docstring)."""
    return float((s_x.mean() - s_y.mean()) / np.concatenate([s_x, s_y]).std(ddof=1))


def permutation_p_value(
    x: np.ndarray, y: np.ndarray, attr_a: np.ndarray, attr_b: np.ndarray, permutations: int, seed: int
) -> tuple[float, float, float, int, bool]:
    """(p, ci_low, ci_high, number of partitions used, exact?) of the one-sided SEAT permutation test."""
    # lazily, and scipy.special only: scipy.stats (beta.ppf) would add 0.6 s of import to every masked evaluation
    # job for the interval below, which betaincinv gives bit-identically (checked on 6,000 (reach, total) pairs)
    from scipy.special import betaincinv, comb

    if len(x) != len(y):
        raise DataError(f"SEAT permutation test needs equal target sizes, got {len(x)} and {len(y)}")
    s = np.concatenate([association(x, attr_a, attr_b), association(y, attr_a, attr_b)])
    size = len(x)
    # weat.py's s_XAB; the observed statistic is summed like every other partition's (fancy index, same order),
    # so the observed partition ties with itself exactly
    observed = s[np.arange(size)].sum()
    partitions = comb(2 * size, size, exact=True)
    if partitions <= permutations:
        reach = total = 0
        for chosen in itertools.combinations(range(2 * size), size):
            reach += s[list(chosen)].sum() >= observed
            total += 1
        p = reach / total
        return p, p, p, total, True
    rng = np.random.default_rng(seed)
    reach, total = 1, 1  # the observed partition, as weat.py counts it
    while total < permutations:
        rows = min(_DRAW_CHUNK, permutations - total)
        # X_i of `rows` random partitions; sorted, so a draw of the observed partition is summed in the observed
        # order and ties with it exactly (row sums of a C-contiguous array sum like the 1-D observed sum)
        drawn = rng.permuted(np.tile(np.arange(2 * size), (rows, 1)), axis=1)[:, :size]
        chosen = np.sort(drawn, axis=1)  # type: ignore[assignment]
        reach += int((s[chosen].sum(axis=1) >= observed).sum())
        total += rows
    # Clopper-Pearson: the beta quantiles, betaincinv(a, b, q) = beta.ppf(q, a, b)
    low = float(betaincinv(reach, total - reach + 1, 0.025))
    high = 1.0 if reach == total else float(betaincinv(reach + 1, total - reach, 0.975))
    return reach / total, low, high, total, False


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
            s_x, s_y = association(x, a, b), association(y, a, b)
            d = effect_of_associations(s_x, s_y)
            rng = np.random.default_rng(boot.seed)
            # a resampled target's association is its row of s_x (s_y): s(w, A, B) depends on w alone, so the
            # replicates need no matrix product (bit-identical to recomputing it on the resampled rows, checked on
            # the toy's SEAT tests; 2 s less per masked evaluation)
            replicates = np.array(
                [
                    effect_of_associations(s_x[rng.integers(0, len(x), len(x))], s_y[rng.integers(0, len(y), len(y))])
                    for _ in range(boot.samples)
                ]
            )
            low, high = percentile_interval(replicates, boot.level)
            out[f"effect_size_{label}"] = MetricValue(d, low, high, len(x) + len(y))
            p, p_low, p_high, used, _ = permutation_p_value(
                x, y, a, b, ctx.settings.seat_permutations, boot.seed + index
            )
            out[f"p_value_{label}"] = MetricValue(p, p_low, p_high, used)
            abs_sizes.append(abs(d))
            abs_replicates.append(np.abs(replicates))
        if abs_sizes:
            low, high = percentile_interval(np.mean(abs_replicates, axis=0), boot.level)
            out["mean_abs_effect_size"] = MetricValue(float(np.mean(abs_sizes)), low, high, len(abs_sizes))
        return out
