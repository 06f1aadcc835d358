"""Verdict rates measured by tests/calibration/test_analysis_calibration.py, printed by conftest's terminal summary."""

LINES: list[str] = []
