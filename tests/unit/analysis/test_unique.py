"""Unique contributions (fairforget.analysis.unique) against nested R² and a standardized comparison."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import statsmodels.api as sm

from fairforget.analysis.unique import unique_contributions
from fairforget.analysis.within import Design, balanced_by_objective


def _frame(rows):
    return pl.DataFrame(rows, schema=["model", "objective", "remedy", "size", "seed", "x1", "x2", "y"], orient="row")


def test_unique_contributions_match_nested_r2_and_standardized_comparison():
    rng = np.random.default_rng(3)
    rows = []
    for model in ("m1", "m2"):
        for objective in range(6):
            for seed in (0, 1):
                x1, x2 = rng.normal(), rng.normal()
                rows.append(
                    (model, f"o{objective}", "none", "full", seed, x1, x2, -1.0 * x1 + 0.3 * x2 + 0.2 * rng.normal())
                )
    frame = _frame(rows)
    result = unique_contributions(frame, "y", "x1", "x2", ("model", "size", "seed"), 199, 0, 0.05)
    data, _ = balanced_by_objective(frame)
    nuisance = Design.of(data, ["model", "size", "seed"]).nuisance(("model", "size", "seed"))
    xs = nuisance.residualise(data.select("x1", "x2").to_numpy())
    ys = nuisance.residualise(data["y"].to_numpy())
    # within-model scales: every variable divided by its root mean square within its model (after the strata)
    models = data["model"].to_numpy()
    for model in ("m1", "m2"):
        rows = models == model
        xs[rows] /= np.sqrt((xs[rows] ** 2).mean(axis=0))
        ys[rows] /= np.sqrt((ys[rows] ** 2).mean())
    sst = ys @ ys

    def r2(columns):
        fit = sm.OLS(ys, xs[:, columns]).fit()
        return 1 - fit.ssr / sst

    assert result.unique[0] == pytest.approx(r2([0, 1]) - r2([1]))
    assert result.unique[1] == pytest.approx(r2([0, 1]) - r2([0]))
    b1, b2 = result.standardized()
    assert (abs(b1) > abs(b2)) == (result.unique[0] > result.unique[1])
    assert result.sum_test.estimate == pytest.approx((b1 + b2) / 1.0, rel=1e-6)
    assert result.difference_test.estimate == pytest.approx(b2 - b1, rel=1e-6)
    r12 = float(xs[:, 0] @ xs[:, 1] / np.sqrt((xs[:, 0] @ xs[:, 0]) * (xs[:, 1] @ xs[:, 1])))
    assert result.r12 == pytest.approx(r12) and result.vif_difference == pytest.approx(1 / (1 - r12))
    # a model's loss scale does not weigh: rescaling one model's outcome and predictors changes nothing
    rescaled = frame.with_columns(
        [(pl.col(c) * pl.when(pl.col("model") == "m2").then(50.0).otherwise(1.0)).alias(c) for c in ("x1", "x2", "y")]
    )
    again = unique_contributions(rescaled, "y", "x1", "x2", ("model", "size", "seed"), 199, 0, 0.05)
    assert again.standardized() == pytest.approx(result.standardized())
    assert again.sum_test.p_two_sided == result.sum_test.p_two_sided
