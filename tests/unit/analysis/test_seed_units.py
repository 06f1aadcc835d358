"""F3's seed units (fairforget.analysis.seed_units): the seeds (its unit) at which an inconclusive arm is settled,
computed by hand. (The "to settle" sentences of F1/F2: tests/unit/analysis/test_markdown.py.)"""

import math

import numpy as np

from fairforget.analysis.claims import ArmTest
from fairforget.analysis.seed_units import seeds_to_settle
from fairforget.analysis.settings import AnalysisSettings


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


def test_more_data_slopes_per_model_and_seed_hand_computed() -> None:
    # Each (model, seed) runs two objectives at 100, 200 and 400 texts (2 doublings); within it the metric is an
    # objective's own level plus b x log2(size): the slope per doubling is b, reported over the 2 doublings (2b).
    import polars as pl

    from fairforget.analysis.seed_units import size_slopes

    slopes = {("bert", 0): 0.5, ("bert", 1): -1.0, ("llama", 0): 2.0, ("llama", 1): 0.25}
    rows = [
        (m, o, "none", str(n), n, s, level + b * math.log2(n))
        for (m, s), b in slopes.items()
        for o, level in (("cda", 3.0), ("none", -7.0))
        for n in (400, 100, 200)
    ]
    frame = pl.DataFrame(
        rows, schema=["model", "objective", "remedy", "size", "size_n", "seed", "metric"], orient="row"
    )
    units, n, notes = size_slopes(frame, "metric")
    assert units is not None and n == 24 and units.models == ["bert", "llama"] and units.seeds == [0, 1]
    expected = [[2 * slopes[(m, s)] for s in (0, 1)] for m in ("bert", "llama")]
    assert np.allclose(units.values, expected, rtol=0, atol=1e-12)
    assert notes == ["100–400 texts, 2 doublings"]
