"""The one number format of findings.md, the verdicts figure and the fusion section (analysis.numbers)."""

from fairforget.analysis.numbers import MISSING, interval, number, relabellings, snap_zero


def test_a_missing_value_prints_as_the_one_dash_everywhere() -> None:
    assert MISSING == "—"  # an em dash: findings.md, the figure and the fusion section print the same
    assert number(None) == MISSING and number(None, 2, scale=1.0) == MISSING


def test_significant_digits_and_zero_up_to_float_error() -> None:
    assert number(0.123456) == "0.123" and number(0.123456, 2) == "0.12" and number(12345.0) == "1.23e+04"
    # with a scale, 0 up to float error (1e-12 of the axis's largest value) prints as 0; without, as it is
    assert number(1.39e-17, scale=0.1) == "0" and number(1.39e-17) == "1.39e-17"
    assert number(-0.0, scale=0.0) == "0" and number(-0.0) == "-0"
    assert snap_zero(2e-13, 1.0) == 0.0 and snap_zero(2e-12, 1.0) == 2e-12


def test_intervals_and_relabellings() -> None:
    assert interval((0.5, 1.25)) == " [0.5, 1.25]" and interval(None) == ""
    assert relabellings(24, True) == "all 24 objective relabellings"
    assert relabellings(999, False) == "999 random objective relabellings"
