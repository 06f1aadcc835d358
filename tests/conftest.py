"""Shared test fixtures."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


def load_config(name: str) -> dict:
    return yaml.safe_load((REPO / "config" / name).read_text())


@pytest.fixture
def toy_config() -> dict:
    return copy.deepcopy(load_config("config.yaml"))


@pytest.fixture(scope="session")
def micro_workflow(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The micro study run once per test session in a throw-away copy of the repository (shared by the
    end-to-end, caching and SLURM-comparison tests, so CI pays for one local run)."""
    from workflow_helpers import copy_workflow, snakemake

    workdir = copy_workflow(tmp_path_factory.mktemp("micro") / "wf")
    snakemake(workdir, "--cores", "2", "--configfile", "config/micro.yaml", timeout=3000)
    return workdir


@pytest.fixture
def one_torch_thread():
    """Run a test with one torch thread and restore the previous setting afterwards."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def pytest_terminal_summary(terminalreporter) -> None:
    """Print the calibration suite's verdict rates (tests/test_analysis_calibration.py) in every run's output."""
    from calibration_report import LINES

    if LINES:
        terminalreporter.section("calibration: verdict rates on simulated run tables")
        for line in LINES:
            terminalreporter.write_line(line)
