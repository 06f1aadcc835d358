"""How findings.md, the verdicts figure and the fusion section print numbers: one rule for all of them."""

from __future__ import annotations

import math

# What a missing value (no estimate, no test) prints as, in every table and figure of the analysis.
MISSING = "—"

# Values within this share of their axis's largest absolute value are 0 up to float error (sums and means of
# thousands of values lose at most a few thousand ulps), shown as 0.
ZERO_TOLERANCE = 1e-12


def snap_zero(value: float | None, scale: float) -> float | None:
    """`value`, or 0.0 when it is 0 up to float error relative to `scale` (for rendering only)."""
    if value is None or not math.isfinite(value):
        return value
    return 0.0 if abs(value) <= ZERO_TOLERANCE * scale else value


def number(value: float | None, digits: int = 3, scale: float | None = None) -> str:
    """`value` to `digits` significant digits, MISSING for None; with `scale`, 0 up to float error shows as 0."""
    if scale is not None:
        value = snap_zero(value, scale)
    return MISSING if value is None else f"{value:.{digits}g}"


def interval(ci: tuple[float, float] | None) -> str:
    """` [low, high]`, or nothing without an interval."""
    return "" if ci is None else f" [{number(ci[0])}, {number(ci[1])}]"


def relabellings(draws: int, exact: bool) -> str:
    """What a Freedman–Lane test over objectives drew: all relabellings or random ones."""
    return f"all {draws} objective relabellings" if exact else f"{draws} random objective relabellings"
