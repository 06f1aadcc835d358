"""Reach (fairforget.analysis.reach): the floors and the grids needed, hand-computed."""

from __future__ import annotations

import pytest


def test_reach_floors_and_needed_grids_hand_computed():
    """Floors: 1/k! for k relabelled objectives, 2/2^c (two-sided) and 1/2^c (one-sided) for c flipped seeds, and
    1/(B + 1) once random draws replace the full set; the grid needed is the smallest with floor < threshold."""
    from fairforget.analysis.reach import objectives_reach, relabelling_floor, seeds_reach, sign_flip_floor

    assert relabelling_floor(4, 199) == pytest.approx(1 / 24)
    assert relabelling_floor(6, 199) == pytest.approx(1 / 200)  # 720 > 199 draws: 1/(199 + 1)
    assert sign_flip_floor(3, 199) == pytest.approx(2 / 8) and sign_flip_floor(3, 199, sides=1) == pytest.approx(1 / 8)
    assert sign_flip_floor(20, 199) == pytest.approx(1 / 200)  # beyond 16 seeds: random sign vectors
    # F1 as stated with 4 objectives: supports (alpha) reachable, contradicts (alpha/2) needs 5 (1/120 < 0.025)
    assert objectives_reach("supports", "t", 4, 199, 0.05).reachable
    contradicts = objectives_reach("contradicts", "t", 4, 199, 0.025)
    assert not contradicts.reachable and contradicts.needed == 5
    assert "needs ≥ 5 objectives" in contradicts.describe()
    # F3 on the paper grid: 3 seeds, 10 tests: Holm's first threshold 0.005 needs 2/2^9 = 0.0039; TOST needs 1/32
    paper = seeds_reach("contradicts", "Holm", 3, 199, 0.005)
    assert paper.floor == pytest.approx(0.25) and paper.needed == 9 and "3 seeds" in paper.describe()
    assert seeds_reach("supports", "TOST", 1, 199, 0.05, sides=1).needed == 5
    assert "(TOST; 1 seed)" in seeds_reach("supports", "TOST", 1, 199, 0.05, sides=1).describe()
    # 20 seeds but only 199 random sign vectors: the draws, not the seeds, set the floor 1/200 = 0.005
    draws = seeds_reach("contradicts", "Holm", 20, 199, 0.005)
    assert not draws.reachable and draws.permutations_needed == 200  # 1/201 < 0.005
    assert "`analysis.permutations` ≥ 200" in draws.describe()
