"""Occupations and an evaluation index for the leakage tests (tests/unit/data/test_leakage.py,
test_leakage_card.py). Holds no tests itself."""

from __future__ import annotations

from fairforget.data.leakage import EvaluationIndex, EvaluationSet

OCCUPATIONS = {
    "driver": "male",
    "chief": "male",
    "construction worker": "male",
    "CEO": "male",
    "nurse": "female",
    "clerk": "female",
    "baker": "female",
    "editor": "female",
}


def evaluation_index() -> EvaluationIndex:
    return EvaluationIndex(
        [
            EvaluationSet("bias", ("The nurse said that she would arrive at the station soon.",), True),
            EvaluationSet("report_only", ("Many people live in the old town near the big river today.",), False),
        ]
    )
