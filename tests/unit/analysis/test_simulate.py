"""Simulated run tables (fairforget.analysis.simulate): the grid's rows, seeded draws, the nested-subsample noise's
variance by hand, and a planted slope recovered without noise."""

from __future__ import annotations

import numpy as np
import pytest

from fairforget.analysis.simulate import OVERALL, Grid, Truth, nested_subsample_noise, simulate_runs


def test_one_row_per_run_of_the_grid_and_seeded() -> None:
    grid = Grid(models=("bert", "llama"), objectives=3, remedies=("none", "l2sp"), sizes=(100, 400), seeds=2)
    table = simulate_runs(grid, Truth(remedy_overall=(0.1,), remedy_downstream=(0.0,)), np.random.default_rng(0))
    assert table.height == grid.runs == 2 * 3 * 2 * 2 * 2
    assert {"model", "objective", "remedy", "size", "size_n", "seed", OVERALL} <= set(table.columns)
    again = simulate_runs(grid, Truth(remedy_overall=(0.1,), remedy_downstream=(0.0,)), np.random.default_rng(0))
    assert table.equals(again)


def test_nested_noise_variance_scales_with_one_over_n() -> None:
    noise = nested_subsample_noise((400, 100), (20_000,), sd=1.0, rng=np.random.default_rng(1))
    # at n = 100 the sd is 1; at n = 400 it is sqrt(100 / 400) = 0.5, and Cov(100, 400) = Var(400) = 0.25
    assert noise[:, 1].std() == pytest.approx(1.0, rel=0.03)
    assert noise[:, 0].std() == pytest.approx(0.5, rel=0.03)
    assert np.cov(noise[:, 0], noise[:, 1])[0, 1] == pytest.approx(0.25, rel=0.06)


def test_a_planted_remedy_effect_is_exact_without_noise() -> None:
    truth = Truth(remedy_overall=(0.2,), remedy_downstream=(0.0,), seed_noise=0.0, noise=0.0, objective_overall=0.0)
    table = simulate_runs(Grid(remedies=("none", "l2sp")), truth, np.random.default_rng(2))
    none = table.filter(table["remedy"] == "none").sort(["model", "objective"])[OVERALL].to_numpy()
    l2sp = table.filter(table["remedy"] == "l2sp").sort(["model", "objective"])[OVERALL].to_numpy()
    np.testing.assert_allclose(l2sp - none, 0.2, atol=1e-12)  # raw units, the same for every model
