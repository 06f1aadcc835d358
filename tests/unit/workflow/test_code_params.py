"""The code fingerprints of the rules (fairforget.workflow.code_params): per rule, and an unknown pin is refused."""

from __future__ import annotations

import pytest

from fairforget.code_identity import (
    module_fingerprint,
)
from fairforget.errors import ConfigError
from fairforget.workflow.code_params import workflow_code


def test_workflow_code_per_rule_and_unknown_pin(toy_config: dict) -> None:
    code = workflow_code(toy_config)
    cda = code["finetune"]["cda"]["none"]
    assert set(cda["components"]) == {"stage/finetune", "objective/cda", "remedy/none"}
    assert cda["components"]["stage/finetune"] == module_fingerprint("fairforget.training.finetune")["sha256"]
    assert code["finetune"]["none"]["none"]["fingerprint"] != cda["fingerprint"]
    assert {f"metric/{m}" for m in toy_config["evaluation"]["metrics"]} < set(code["evaluate"]["components"])
    with pytest.raises(ConfigError, match="code_pin.*objective/nope"):
        workflow_code({**toy_config, "code_pin": {"objective/nope": "0" * 64}})
