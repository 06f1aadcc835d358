"""findings.md's text (fairforget.analysis.markdown): the "to settle" sentences name only levers that move the
rule (issue 28, item 3): seeds never lower the relabelling floor 1/k!, so where no verdict is reachable with these
objectives, seeds are not offered."""

from __future__ import annotations

from fairforget.analysis.claims import Power, association_reach
from fairforget.analysis.markdown import settle_text


def test_seeds_are_offered_only_where_the_floor_allows_a_verdict() -> None:
    # 4 objectives: floor 1/24 = 0.042 < 0.05, reachable. Estimate variance (0 + 1 * 4 / 8) / 4; twice the
    # information needed: 8 objectives, or seeds such that 0.5 * 3 / s <= 0.25, s = 6.
    text = settle_text(Power(scale_needed=2.0, noise_sd=(0.0, 1.0)), 8, 3, 4, association_reach(4, 10_000, 0.05))
    assert "≈ 8 objectives" in text
    assert "≈ 6 seeds instead of 3" in text


def test_below_the_floor_more_seeds_are_not_offered_and_objectives_reach_it() -> None:
    # 3 objectives: floor 1/6 > 0.05 for either verdict; 4 objectives are the fewest with 1/k! < 0.05,
    # more than power alone asks (ceil(1.1 * 3) = 4 here; ceil(1.0 * 3) = 3 below).
    reach = association_reach(3, 10_000, 0.05)
    assert not any(r.reachable for r in reach)
    text = settle_text(Power(scale_needed=1.0, noise_sd=(0.0, 1.0)), 6, 3, 3, reach)
    assert "≈ 4 objectives" in text
    assert "seeds instead" not in text
    assert "more seeds cannot" in text
    assert "powered" not in text  # a grid below the floor is never "powered"


def test_a_powered_reachable_grid_says_the_outcome_keeps_it_open() -> None:
    text = settle_text(Power(scale_needed=0.5, noise_sd=(0.0, 1.0)), 8, 3, 4, association_reach(4, 10_000, 0.05))
    assert "not for want of runs" in text
