"""`fairforget code` (fairforget.cli.code): one line per component the study uses, and whether each `code_pin`
still matches the current code."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from conftest import REPO, load_config
from fairforget.cli import main
from fairforget.workflow.code_params import components


def test_lists_every_component_and_checks_the_pins(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = load_config("micro.yaml")
    current = components(config)
    objective = next(cid for cid in current if cid.startswith("objective/"))
    remedy = next(cid for cid in current if cid.startswith("remedy/"))
    config["code_pin"] = {objective: current[objective]["sha256"], remedy: "0" * 64}
    path = tmp_path / "pinned.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    assert main(["code", "--configfile", str(path), "--base-dir", str(REPO)]) == 0
    lines = capsys.readouterr().out.splitlines()
    listed = [line.split()[0] for line in lines if not line.startswith("pinned ")]
    assert listed == list(current)  # one line per component, in the order the study's code params use
    assert f"pinned {objective} = {current[objective]['sha256'][:16]} (current)" in lines
    assert f"pinned {remedy} = {'0' * 16} (differs from the current code)" in lines
