"""The "to settle" sentences name only levers that move the rule (issue 28, item 3). F1/F2: seeds never lower the
relabelling floor 1/k!, so where no verdict is reachable with these objectives, seeds are not offered. F3: the
seeds (its unit) at which an inconclusive arm is settled, computed by hand."""

from fairforget.analysis.claims import ArmTest, Power, association_reach
from fairforget.analysis.markdown import settle_text
from fairforget.analysis.seed_units import seeds_to_settle
from fairforget.analysis.settings import AnalysisSettings


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


def _arm(**fields: object) -> ArmTest:
    base: dict = dict(arm="l2sp", metric="overall_forgetting.mean_loss_change", helpful_sign=-1, kind="paired", n=8)
    return ArmTest(**{**base, **fields})


def test_f3_seeds_to_settle_by_equivalence_hand_computed() -> None:
    # Not helpful (+0.1 where lower helps): only TOST can settle it. One model, per-seed sd 1 over 4 seeds, so the
    # mean's se is 0.5; effect 0, margin 1: multiple ((z_.95 + z_.90) se / margin)^2 = ((1.645 + 1.282) 0.5)^2
    # = 2.141, i.e. ceil(2.141 x 4) = 9 seeds; TOST's floor 1/2^c < 0.05 needs 5; the larger: 9.
    arm = _arm(units=4, estimate=0.1, sd=1.0, margins={"m": 1.0}, per_model={"m": 0.0}, model_sd={"m": 1.0})
    assert seeds_to_settle(arm, 0.025, AnalysisSettings()) == 9


def test_f3_seeds_to_settle_by_the_sign_flip_test_hand_computed() -> None:
    # Helpful (-1 where lower helps), per-seed sd 1, no margin: the fewest seeds c whose two-sided floor 2/2^c is
    # below 0.025 (c >= 7) and whose sign-flip MDE z sd sqrt((c-1)/(c(c-z^2))) + t_{.8,c-1} sd/sqrt(c), z = z_.9875
    # = 2.241, is at most 1: c = 13 gives 0.762 + 0.242 = 1.004, c = 14 gives 0.721 + 0.233 = 0.953.
    arm = _arm(units=3, estimate=-1.0, sd=1.0, margins={"m": None})
    assert seeds_to_settle(arm, 0.025, AnalysisSettings()) == 14
    # a larger estimate needs fewer seeds; an unhelpful one with no margin none at all
    assert seeds_to_settle(_arm(units=3, estimate=-2.0, sd=1.0, margins={"m": None}), 0.025, AnalysisSettings()) < 14
    assert seeds_to_settle(_arm(units=3, estimate=1.0, sd=1.0, margins={"m": None}), 0.025, AnalysisSettings()) is None
