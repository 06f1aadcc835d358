"""What a verdict rule can reach on a grid: the smallest p-value its permutation test can attain (its floor)
against the threshold that p must beat after the rule's multiplicity correction, and the smallest grid that would
lower the floor below it (docs/metrics.md, section 9.5).

Floors: a test that relabels k exchangeable blocks (objectives; F1, F2) has k! relabellings, and the observed one
is among them, so no two-sided p is below 1/k!. A sign-flip test over c independent units (seeds; F3) has 2^c
sign vectors; the vector that flips every unit gives the same |mean|, so no two-sided p is below 2/2^c, no
one-sided p (TOST) below 1/2^c. With random draws instead of the full set, p >= 1/(draws + 1) as well.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from fairforget.analysis.permutation import MAX_EXACT_PAIRS

# The largest grid the "needed" search looks at (beyond it the verdict is called unreachable by this lever).
MAX_UNITS = 64


@dataclass(frozen=True)
class Reach:
    """Whether one verdict of one test can be reached: its floor against its threshold, and the units needed."""

    verdict: str  # "supports" / "contradicts"
    test: str  # what must reject, e.g. "b1*+b2* and b1*-b2* two-sided", "TOST per model"
    unit: str  # the test's unit of replication, plural ("objectives", "seeds")
    units: int
    floor: float
    threshold: float
    needed: int | None  # units at which floor < threshold (None: not within MAX_UNITS, or permutations limit)
    permutations_needed: int | None = None  # random draws needed when the draws, not the units, set the floor

    @property
    def reachable(self) -> bool:
        return self.floor < self.threshold

    @property
    def grid(self) -> str:
        """The grid's count of units, e.g. "1 seed", "4 objectives"."""
        return count(self.units, self.unit)

    def describe(self) -> str:
        """One sentence: reachable or not, and what grid would make it reachable."""
        head = (
            f"{self.verdict}: smallest attainable p {self.floor:.3g} vs the {self.threshold:.3g} it must beat "
            f"({self.test}; {self.grid})"
        )
        if self.reachable:
            return f"{head}: reachable"
        if self.needed is not None and self.needed > self.units:
            text = f"{head}: unreachable; needs ≥ {self.needed} {self.unit}"
        elif self.permutations_needed is not None:
            text = f"{head}: unreachable with these random draws"
        else:
            text = f"{head}: unreachable on any grid up to {MAX_UNITS} {self.unit}"
        if self.permutations_needed is not None:
            text += f" and `analysis.permutations` ≥ {self.permutations_needed}"
        return text


def count(n: int, plural: str) -> str:
    """ "1 seed", "3 seeds": n with the unit's plural name made singular for one."""
    return f"{n} {plural.removesuffix('s') if n == 1 else plural}"


def _monte_carlo_floor(draws: int) -> float:
    return 1.0 / (draws + 1)


def relabelling_floor(k: int, draws: int) -> float:
    """Smallest two-sided p of a test relabelling k blocks (all k! when k! <= draws, else `draws` random ones)."""
    if k < 1:
        return 1.0
    total = math.factorial(k)
    return 1.0 / total if total <= draws else max(1.0 / total, _monte_carlo_floor(draws))


def sign_flip_floor(c: int, draws: int, sides: int = 2) -> float:
    """Smallest p of a sign-flip test over c units (two-sided: 2/2^c; one-sided: 1/2^c), exact up to
    MAX_EXACT_PAIRS units, else `draws` random sign vectors."""
    if c < 1:
        return 1.0
    exact = min(1.0, sides / 2.0**c)
    return exact if c <= MAX_EXACT_PAIRS else max(exact, _monte_carlo_floor(draws))


def _permutations_for(threshold: float) -> int:
    """Random draws B with 1/(B + 1) < threshold."""
    return math.floor(1.0 / threshold)


def objectives_reach(verdict: str, test: str, k: int, draws: int, threshold: float) -> Reach:
    floor = relabelling_floor(k, draws)
    needed = next((j for j in range(2, MAX_UNITS + 1) if 1.0 / math.factorial(j) < threshold), None)
    # random relabellings replace the full set (and 1/(B + 1) bounds p) once k! exceeds the draws
    beyond_exact = math.factorial(max(k, needed or 0)) > draws
    more_draws = _permutations_for(threshold) if beyond_exact and _monte_carlo_floor(draws) >= threshold else None
    return Reach(verdict, test, "objectives", k, floor, threshold, needed, more_draws)


def units_to_reach(threshold: float, sides: int = 2, draws: int | None = None) -> int | None:
    """The fewest units (at most MAX_UNITS) whose sign-flip floor lies below `threshold`: the exact test's floor,
    or with `draws` the floor of the test as run (random sign vectors beyond MAX_EXACT_PAIRS units); None when
    no number of units reaches it."""
    units = range(1, MAX_UNITS + 1)
    if draws is None:
        return next((c for c in units if min(1.0, sides / 2.0**c) < threshold), None)
    return next((c for c in units if sign_flip_floor(c, draws, sides) < threshold), None)


def seeds_reach(verdict: str, test: str, c: int, draws: int, threshold: float, sides: int = 2) -> Reach:
    floor = sign_flip_floor(c, draws, sides)
    needed = units_to_reach(threshold, sides)
    # random sign vectors replace the full set (and 1/(B + 1) bounds p) beyond MAX_EXACT_PAIRS units
    beyond_exact = max(c, needed or 0) > MAX_EXACT_PAIRS
    more_draws = _permutations_for(threshold) if beyond_exact and _monte_carlo_floor(draws) >= threshold else None
    return Reach(verdict, test, "seeds", c, floor, threshold, needed, more_draws)
