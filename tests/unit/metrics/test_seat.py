"""SEAT (fairforget.metrics.seat): effect size and exact permutation p-value by hand and against WEAT.py's procedure."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from fairforget.errors import DataError
from fairforget.metrics.seat import effect_size, permutation_p_value, seat_label


def _unit(rows):
    rows = np.array(rows, float)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_seat_effect_size_and_exact_p_value_hand_computed():
    x, y = _unit([[1, 0], [0.8, 0.6]]), _unit([[0, 1], [0.6, 0.8]])
    a, b = _unit([[1, 0]]), _unit([[0, 1]])
    assert effect_size(x, y, a, b) == pytest.approx(1.2 / math.sqrt(2.08 / 3))
    # s = (1, 0.2 | -1, -0.2); sum_X over the 6 partitions: 1.2 (observed), 0, 0.8, -0.8, 0, -1.2.
    # bias-bench weat.py counts partitions >= observed, the observed one included: p = 1/6, never 0.
    p, low, high, used, exact = permutation_p_value(x, y, a, b, permutations=6, seed=0)
    assert (p, low, high, used, exact) == (pytest.approx(1 / 6), pytest.approx(1 / 6), pytest.approx(1 / 6), 6, True)
    assert permutation_p_value(y, x, a, b, permutations=6, seed=0)[0] == 1.0  # every partition reaches -1.2
    # ties count: X = Y gives s = (1, 0.2 | 1, 0.2), sums 1.2 (observed), 2, 1.2, 1.2, 0.4, 1.2: p = 5/6 (a strict
    # ">" would give 1/6); with every s equal every partition ties and p = 1 (strict: 0)
    assert permutation_p_value(x, x.copy(), a, b, permutations=6, seed=0)[0] == pytest.approx(5 / 6)
    same = _unit([[1, 0], [1, 0]])
    assert permutation_p_value(same, same.copy(), a, b, permutations=6, seed=0)[0] == 1.0
    # sampled (5 < 6 partitions): every draw ties too; Clopper-Pearson lower bound for 5 of 5 = 0.025 ** (1/5)
    tied = permutation_p_value(same, same.copy(), a, b, permutations=5, seed=0)
    assert tied[:3] == (1.0, pytest.approx(0.025 ** (1 / 5)), 1.0)
    sampled = permutation_p_value(x, y, a, b, permutations=5, seed=0)
    assert sampled[3] == 5 and not sampled[4] and sampled[0] == pytest.approx(1 / 5)  # observed counts once
    # Clopper-Pearson for 1 of 5: lower = the Beta(1, 5) quantile 1 - 0.975 ** (1/5); upper 0.7164 (Beta(2, 4))
    assert sampled[1:3] == (pytest.approx(1 - 0.975 ** (1 / 5)), pytest.approx(0.716418, abs=1e-6))
    with pytest.raises(DataError, match="equal target sizes"):
        permutation_p_value(x, y[:1], a, b, 10, 0)
    assert seat_label("sent-weat6b") == "weat6b"


def weat_py_exact_p_value(x, y, a, b):
    """bias-bench weat.py `p_val_permutation_test`, exact branch: s_XAB(X_i) > s or == s (conservative)."""
    cossims = np.concatenate([x, y]) @ np.concatenate([a, b]).T
    s_wab = cossims[:, : len(a)].mean(axis=1) - cossims[:, len(a) :].mean(axis=1)
    observed = s_wab[np.arange(len(x))].sum()
    total_true = total = 0
    for xi in itertools.combinations(range(len(x) + len(y)), len(x)):
        si = s_wab[np.array(xi)].sum()
        total_true += bool(si > observed or si == observed)
        total += 1
    return total_true / total


@pytest.mark.parametrize("seed", range(5))
def test_seat_exact_p_value_equals_weat_py(seed):
    rng = np.random.default_rng(seed)
    x, y, a, b = (_unit(rng.normal(size=(n, 5))) for n in (4, 4, 3, 5))
    assert permutation_p_value(x, y, a, b, permutations=100, seed=0)[0] == pytest.approx(
        weat_py_exact_p_value(x, y, a, b), abs=1e-12
    )


def test_seat_bootstrap_replicates_are_the_effect_sizes_of_resampled_targets():
    """The metric's effect-size interval resamples X and Y (separately, one seeded stream: X's indices then Y's per
    replicate) and reads each resampled target's association off s(x), s(y): the interval equals the one of
    effect sizes recomputed from the resampled embeddings themselves, to the bit."""
    from types import SimpleNamespace

    from fairforget.metrics.bootstrap import BootstrapSettings, percentile_interval
    from fairforget.metrics.seat import Seat

    rng = np.random.default_rng(7)
    x, y, a, b = (_unit(rng.normal(size=(n, 16))) for n in (9, 9, 5, 7))
    boot = BootstrapSettings(samples=200, seed=3)
    settings = SimpleNamespace(bootstrap=boot, seat_tests=["sent-weat6"], seat_permutations=50)
    ctx = SimpleNamespace(
        settings=settings,
        scores=SimpleNamespace(
            embeddings={"sent-weat6": dict(zip(("targ1", "targ2", "attr1", "attr2"), (x, y, a, b), strict=True))}
        ),
    )
    out = Seat().compute(ctx)
    draws = np.random.default_rng(boot.seed)
    recomputed = np.array(
        [
            effect_size(x[draws.integers(0, len(x), len(x))], y[draws.integers(0, len(y), len(y))], a, b)
            for _ in range(boot.samples)
        ]
    )
    effect = out["effect_size_weat6"]
    assert effect.value == effect_size(x, y, a, b)
    assert (effect.ci_low, effect.ci_high) == percentile_interval(recomputed, boot.level)
    assert effect.ci_low < effect.value < effect.ci_high
