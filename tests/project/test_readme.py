"""README and CI agree: `.ci/run` runs the linters and then exactly the README's test command."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

README = (REPO / "README.md").read_text(encoding="utf-8")
CI_RUN = (REPO / ".ci" / "run").read_text(encoding="utf-8")


def commands(script: str) -> list[str]:
    """The script's command lines (comments, blank lines and shell structure left out)."""
    lines = [line.split(" #")[0].strip() for line in script.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def readme_test_command() -> str:
    """The command after `bash tools/setup.sh &&` in the Quickstart's test block."""
    quickstart = README[README.index("## Quickstart") : README.index("## What the workflow does")]
    (command,) = re.findall(r"^bash tools/setup\.sh && (.*pytest.*)$", quickstart, flags=re.MULTILINE)
    return command.strip()


def test_ci_runs_exactly_the_readme_test_command_last():
    command = readme_test_command()
    assert command == ".venv/bin/python -m pytest -q"
    assert commands(CI_RUN)[-1] == command


def test_ci_lints_before_it_tests():
    lines = commands(CI_RUN)
    assert lines.index("bash tools/lint.sh") < lines.index(readme_test_command())
    assert lines.index("bash tools/setup.sh") < lines.index("bash tools/lint.sh")


def test_the_fast_tier_is_documented_beside_the_full_command():
    fast = '.venv/bin/python -m pytest -q -m "not slow"'
    assert f"`{fast}`" in README and f"`{readme_test_command()}`" in README
    marker = shlex.split(fast)[-1]  # "not slow": the marker exists, so the tier deselects something
    assert marker == "not slow"
    assert '"slow: ' in (REPO / "pyproject.toml").read_text(encoding="utf-8")
