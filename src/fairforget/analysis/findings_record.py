"""Everything findings.md shows, as plain data (JSON-serialisable): `findings_as_dict`."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fairforget.analysis.claims import Finding
from fairforget.analysis.permutation import CoefficientTest


def _coefficient_record(test: CoefficientTest | None, alpha: float = 0.05) -> dict[str, Any] | None:
    if test is None:
        return None
    record = asdict(test)
    record["partial_r"] = test.partial_r
    record["ci"] = test.ci(alpha)
    return record


def finding_record(f: Finding) -> dict[str, Any]:
    record: dict[str, Any] = {
        "key": f.key,
        "verdict": f.verdict,
        "reason": f.reason,
        "rule": f.rule,
        "tests": f.tests,
        "x": f.x,
        "y": f.y,
        "margins": f.margins,
        "notes": f.notes,
        "reach": [{**asdict(r), "reachable": r.reachable} for r in f.reach],
        "plain_reach": [{**asdict(r), "reachable": r.reachable} for r in f.plain_reach],
    }
    if f.sign_test is not None:
        fit = f.sign_test.slope
        record["association"] = {
            "x": fit.x,
            "y": fit.y,
            "verdict": f.sign_test.verdict,
            "reason": f.sign_test.reason,
            "strata": list(fit.strata),
            "controls": list(fit.controls),
            "pooled_r": fit.pooled_r,
            "pooled": _coefficient_record(fit.pooled),
            "within": _coefficient_record(fit.within),
            "per_model": {m: _coefficient_record(t) for m, t in fit.per_model.items()},
            "power": asdict(f.sign_test.power),
        }
    if f.unique is not None:
        u = f.unique
        record["unique_contributions"] = {
            "predictors": list(u.predictors),
            "n": u.n,
            "unique": list(u.unique),
            "unique_ci": [list(c) if c else None for c in u.unique_ci],
            "standardized": u.standardized(),
            "coefficients": [_coefficient_record(c) for c in u.coefficients],
            "sum_test": _coefficient_record(u.sum_test),
            "difference_test": _coefficient_record(u.difference_test),
            "per_model": {m: list(v) for m, v in u.per_model.items()},
            "r12": u.r12,
            "r12_per_model": u.r12_per_model,
            "vif_difference": u.vif_difference,
            "vif_sum": u.vif_sum,
            "power": asdict(f.unique_power),
        }
    record["arms"] = [asdict(a) for a in f.arms]
    return record


def findings_as_dict(findings: list[Finding]) -> list[dict[str, Any]]:
    """Everything findings.md shows, as plain data (JSON-serialisable)."""
    return [finding_record(f) for f in findings]
