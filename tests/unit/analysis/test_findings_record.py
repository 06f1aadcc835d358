"""findings as plain data (fairforget.analysis.findings_record): what findings.md shows, JSON-serialisable, with
only the sections a finding has."""

from __future__ import annotations

import json

from fairforget.analysis.claims import ArmTest, Finding
from fairforget.analysis.findings_record import findings_as_dict


def test_an_f3_finding_becomes_json_with_its_arms_and_no_association() -> None:
    arm = ArmTest("l2sp", "overall_forgetting.mean_loss_change", -1, "paired", 8, estimate=-0.02,
                  ci=(-0.03, -0.01), p_holm=0.01, margins={"bert": 0.01}, p_tost=0.9)  # fmt: skip
    finding = Finding("F3", "remedies reduce forgetting", "rule", verdict="supports", arms=[arm], notes=["n"])
    (record,) = findings_as_dict([finding])
    read_back = json.loads(json.dumps(record, allow_nan=False))  # plain data, no NaN
    assert read_back["arms"][0]["ci"] == [-0.03, -0.01] and read_back["notes"] == ["n"]
    assert (record["key"], record["verdict"], record["notes"], record["reach"]) == ("F3", "supports", ["n"], [])
    assert "association" not in record and "unique_contributions" not in record  # sections it does not have
    (arm_record,) = record["arms"]
    assert arm_record["arm"] == "l2sp" and arm_record["estimate"] == -0.02 and arm_record["p_holm"] == 0.01
    assert arm_record["ci"] == (-0.03, -0.01)  # as asdict keeps it; JSON writes it as a list


def test_findings_keep_their_order() -> None:
    findings = [Finding(key, "claim", "rule") for key in ("F1", "F2", "F3")]
    assert [r["key"] for r in findings_as_dict(findings)] == ["F1", "F2", "F3"]
    assert [r["verdict"] for r in findings_as_dict(findings)] == ["inconclusive"] * 3
