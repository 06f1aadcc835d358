"""The verdict rules (fairforget.analysis.claims): sign, comparative (the cone) and remedies verdicts by hand."""

from __future__ import annotations

from fairforget.analysis.claims import CONTRADICTS, INCONCLUSIVE, SUPPORTS


def _coefficient(estimate, p, n=20):
    from fairforget.analysis.permutation import CoefficientTest, PValues

    return CoefficientTest(n=n, estimate=estimate, se=0.1, t=estimate / 0.1, df=n - 3, p=PValues(p, p / 2, 1 - p / 2))


def test_sign_verdict_needs_significance_and_every_model():
    from fairforget.analysis.claims import sign_verdict

    agree = {"a": _coefficient(-0.5, 0.3), "b": _coefficient(-0.2, 0.4)}
    assert sign_verdict(_coefficient(-0.4, 0.01), agree, -1, 0.05)[0] == SUPPORTS
    assert sign_verdict(_coefficient(-0.4, 0.01), agree, +1, 0.05)[0] == CONTRADICTS
    assert sign_verdict(_coefficient(-0.4, 0.06), agree, -1, 0.05)[0] == INCONCLUSIVE
    # one model's own estimate disagrees: no verdict either way (Simpson's paradox guard)
    split = {"a": _coefficient(-0.5, 0.3), "b": _coefficient(0.1, 0.4)}
    verdict, reason = sign_verdict(_coefficient(-0.4, 0.01), split, -1, 0.05)
    assert verdict == INCONCLUSIVE and "b" in reason


def test_comparative_verdict_cone():
    """supports iff b1* + b2* < 0 and b1* - b2* < 0 are both shown; contradicts iff either is shown the other
    way at alpha/2 and no model lies in the claim."""
    from fairforget.analysis.claims import comparative_verdict
    from fairforget.analysis.unique import UniqueContribution

    def unique(b1, b2, p_sum, p_diff, per_model):
        total = _coefficient(b1 + b2, p_sum)  # coefficient of the sum contrast
        diff = _coefficient(b2 - b1, p_diff)  # tests b2* - b1*
        return UniqueContribution(
            y="y",
            predictors=("x1", "x2"),
            n=20,
            coefficients=(_coefficient(b1, 0.01), _coefficient(b2, 0.5)),
            unique=(0.5, 0.1),
            unique_ci=(None, None),
            within_r2=0.6,
            sum_test=total,
            difference_test=diff,
            scales=(1.0, 1.0),
            per_model=per_model,
        )

    inside = {"a": (-1.0, 0.2), "b": (-0.8, -0.1)}
    outside = {"a": (-0.1, -1.0), "b": (0.2, -0.9)}
    assert comparative_verdict(unique(-1.0, 0.1, 0.01, 0.01, inside), 0.05)[0] == SUPPORTS
    assert comparative_verdict(unique(-1.0, 0.1, 0.01, 0.2, inside), 0.05)[0] == INCONCLUSIVE
    assert comparative_verdict(unique(-1.0, 0.1, 0.01, 0.01, {**inside, "b": (0.3, 0.1)}), 0.05)[0] == INCONCLUSIVE
    # selective dominates: b1* - b2* > 0 shown (the difference test b2* - b1* < 0) at alpha/2
    assert comparative_verdict(unique(-0.1, -1.0, 0.01, 0.02, outside), 0.05)[0] == CONTRADICTS
    assert comparative_verdict(unique(-0.1, -1.0, 0.5, 0.04, outside), 0.05)[0] == INCONCLUSIVE


def test_remedies_verdict():
    from fairforget.analysis.claims import ArmTest, remedies_verdict

    def arm(estimate, p_holm, p_tost, helpful=-1):
        return ArmTest(
            arm="r",
            metric="m",
            helpful_sign=helpful,
            kind="paired",
            n=10,
            estimate=estimate,
            p=p_holm,
            p_holm=p_holm,
            margins={"a": 0.1},
            p_tost=p_tost,
        )

    assert remedies_verdict([arm(-0.3, 0.01, 0.9), arm(0.0, 1.0, 0.01)], 0.05)[0] == CONTRADICTS
    # significant but harmful (raises forgetting): no contradiction, and not equivalent
    assert remedies_verdict([arm(0.3, 0.01, 0.9), arm(0.0, 1.0, 0.01)], 0.05)[0] == INCONCLUSIVE
    assert remedies_verdict([arm(0.01, 0.8, 0.01), arm(0.0, 1.0, 0.02)], 0.05)[0] == SUPPORTS
    assert remedies_verdict([arm(0.01, 0.8, 0.01), arm(0.0, 1.0, 0.2)], 0.05)[0] == INCONCLUSIVE
