"""Within-model design (fairforget.analysis.within): balanced cells and the nuisance of controls, by hand."""

from __future__ import annotations

import numpy as np
import polars as pl

from fairforget.analysis.within import Design, balanced_by_objective


def _frame(rows):
    return pl.DataFrame(rows, schema=["model", "objective", "remedy", "size", "seed", "x1", "x2", "y"], orient="row")


def test_balanced_by_objective_drops_incomplete_cells():
    rows = [("m", o, "none", "full", s, 0.0, 0.0, 0.0) for o in ("a", "b") for s in (0, 1)]
    rows.append(("m", "a", "none", "full", 2, 0.0, 0.0, 0.0))  # seed 2 only for objective a
    kept, left_out = balanced_by_objective(_frame(rows))
    assert left_out == 1 and kept.height == 4
    assert kept["objective"].to_list() == ["a", "a", "b", "b"]


def test_controls_are_interacted_with_the_model():
    rows = [(m, o, r, "full", 0, 0.0, 0.0, 0.0) for m in ("m1", "m2") for o in ("a", "b") for r in ("none", "l2")]
    nuisance = Design.of(_frame(rows), ["model", "size", "seed", "remedy"]).nuisance(
        ("model", "size", "seed"), ("remedy",)
    )
    assert nuisance.strata_count == 2 and nuisance.extra.shape[1] == 2  # one remedy indicator per model


def test_a_design_of_some_rows_is_the_design_of_those_rows_as_a_table():
    # one query reads the grid columns; a model's part then needs none: same codes, fixed effects and permutations

    rows = [
        (m, o, r, "full", s, 0.0, 0.0, 0.0)
        for m in ("m1", "m2")
        for o in ("b", "a", "c")
        for r in ("none", "l2")
        for s in (0, 1)
    ]
    frame, _ = balanced_by_objective(_frame(rows))
    design = Design.of(frame, ["model", "objective", "size", "seed", "remedy"])
    part = np.flatnonzero(frame["model"].to_numpy() == "m2")
    subset = design.rows(part)
    table = frame[part]
    fresh = Design.of(table, ["model", "objective", "size", "seed", "remedy"])  # the subset's own query
    assert np.array_equal(subset.codes(["model", "size", "seed"]), fresh.nuisance(("model", "size", "seed")).codes)
    ours, theirs = subset.nuisance(("model", "seed"), ("remedy",)), fresh.nuisance(("model", "seed"), ("remedy",))
    assert np.array_equal(ours.codes, theirs.codes) and np.array_equal(ours.extra, theirs.extra)
    perms, exact = subset.objective_permutations(199, 0)
    expected, expected_exact = fresh.objective_permutations(199, 0)
    assert exact == expected_exact and np.array_equal(perms, expected) and perms.shape == (6, table.height)
