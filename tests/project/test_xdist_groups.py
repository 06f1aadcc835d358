"""The README's test command runs two pytest-xdist workers; tests that share a study must run on one worker, which
computes the study once (tests/conftest.py groups them). Checked on a throw-away project with this conftest and
pyproject's pytest settings: a session fixture standing in for the micro study, used by three tests, is computed by
one worker only, whatever else the other worker gets."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("xdist")

REPO = Path(__file__).resolve().parents[2]

SHARED_STUDY_TESTS = """
import os
import time

import pytest


@pytest.fixture(scope="session")
def micro_evaluations():  # stands in for conftest's study fixture of the same name (same sharing key)
    with open(os.environ["COMPUTED_BY"], "a") as record:
        record.write(os.environ["PYTEST_XDIST_WORKER"] + "\\n")
    time.sleep(1)  # long enough that the other worker would pick up a member of a split group
    return os.environ["PYTEST_XDIST_WORKER"]


@pytest.mark.parametrize("case", range(3))
def test_reads_the_study(micro_evaluations, case):
    assert micro_evaluations == os.environ["PYTEST_XDIST_WORKER"]


@pytest.mark.parametrize("case", range(6))
def test_independent(case):
    time.sleep(0.2)
"""


def test_tests_sharing_a_study_run_on_one_worker_which_computes_it_once(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "tests").mkdir(parents=True)
    shutil.copy(REPO / "pyproject.toml", project)
    for helper in ("conftest.py", "calibration_report.py"):
        shutil.copy(REPO / "tests" / helper, project / "tests")
    (project / "tests" / "test_shared.py").write_text(SHARED_STUDY_TESTS)
    computed = tmp_path / "computed.txt"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider"],  # pyproject's addopts: -n 2, loadgroup
        cwd=project,
        env={**_without_xdist_worker(), "COMPUTED_BY": str(computed)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "9 passed" in result.stdout
    assert len(computed.read_text().split()) == 1, f"the study was computed by {computed.read_text().split()}"
    study_lines = [line for line in result.stdout.splitlines() if "test_reads_the_study" in line and "PASSED" in line]
    assert len(study_lines) == 3 and len({line.split()[0] for line in study_lines}) == 1, result.stdout


def _without_xdist_worker() -> dict[str, str]:
    """This process's environment, less what marks it as an xdist worker (the subprocess is a session of its own)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
