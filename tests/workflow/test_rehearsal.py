"""The paper rehearsal (config/rehearsal.yaml over config/paper.yaml, docs/paper-rehearsal.md) run whole through
Snakemake on CPU, from a hub cache and a datasets cache built offline by tools/build_rehearsal_cache.py under a
temporary HF_HOME: every rule of paper.yaml's DAG runs (the rehearsal's covering set of runs, `grid_subset`:
every objective, remedy, data size and both hub models), every job the rehearsal plans leaves its benchmark file,
findings.md is written, and every checkpoint proves its manifest and sidecar (every file re-hashed) and the
findings' provenance re-hashes its whole lineage.

With FAIRFORGET_SLURM=1 (CI: `.ci/run` starts the single-node cluster of `.ci/slurm_ci.sh` and sets it, and
FAIRFORGET_REHEARSAL=1 with it) the rehearsal runs as on a cluster, `snakemake --profile slurm_profile` with the CI
overlay, GPU rules on the fake-GPU partition (CPU fallbacks: docs/paper-rehearsal.md), and sacct must list every
job COMPLETED with a GPU for finetune and the downstream rules; otherwise locally (`--cores 2`). It then shares the
SLURM tests' xdist group (the `slurm` mark): one cluster, and the SLURM recovery check scancels "the running
finetune job", which must be its own.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from snakemake.utils import update_config, validate

from conftest import load_config
from fairforget import paths
from fairforget.config import run_grid
from fairforget.config.schema import SCHEMA
from fairforget.models.modeldir import verify_model_dir
from fairforget.provenance.audit import audit
from fairforget.workflow.plan import plan_study
from fairforget.workflow.products import model_dir_problem
from workflow_helpers import REPO, copy_workflow, planned_jobs, slurm_ci_env, slurm_ci_profile, snakemake

THROUGH_SLURM = os.environ.get("FAIRFORGET_SLURM") == "1"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.environ.get("FAIRFORGET_REHEARSAL") != "1",
        reason="the paper rehearsal (through SLURM with its local comparison run about 2,100 CPU-s; locally about "
        "1,300, estimated: docs/paper-rehearsal.md) runs with FAIRFORGET_REHEARSAL=1 (set by .ci/run)",
    ),
    *([pytest.mark.slurm] if THROUGH_SLURM else []),
]

CONFIGS = ("--configfile", "config/paper.yaml", "config/rehearsal.yaml")
RESULTS = Path("results") / "rehearsal"
# the GPU rules of the rehearsal's DAG: each must have held a (fake) GPU on the cluster
GPU_RULES = ("finetune", "downstream_base", "downstream_finetuned")


def merged_config(*names: str) -> dict:
    """The config Snakemake runs for `--configfile NAME...` (later files merged into earlier ones), validated with
    the schema's defaults set."""
    config = copy.deepcopy(load_config(names[0]))
    for name in names[1:]:
        update_config(config, load_config(name))
    validate(config, str(SCHEMA), set_default=True)
    return config


def planned_rules(config: dict) -> dict[str, int]:
    """Rule -> jobs of a config's DAG as `fairforget plan` counts it (the rules with at least one job)."""
    return {row.rule: row.jobs for row in plan_study(config, REPO)[0] if row.rule != "total" and row.jobs}


def benchmarked_jobs(results: Path) -> dict[str, int]:
    """Rule -> Snakemake benchmark files written under results/benchmarks/ (one per job that ran)."""
    root = results / Path(paths.BENCHMARK).parts[0]
    return {rule.name: sum(1 for _ in rule.rglob("*.tsv")) for rule in root.iterdir() if rule.is_dir()}


@pytest.fixture(scope="module")
def caches(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The built hub and datasets caches (tools/build_rehearsal_cache.py) and the environment that names them."""
    root = tmp_path_factory.mktemp("rehearsal")
    home = root / "hf"
    subprocess.run([sys.executable, str(REPO / "tools" / "build_rehearsal_cache.py"), str(home)], check=True)
    env = {"HF_HOME": str(home), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    # the jobs' datasets cache is the built one, not the test session's (conftest points that elsewhere)
    env["HF_DATASETS_CACHE"] = str(home / "datasets")
    return root, env


@pytest.fixture(scope="module")
def rehearsal(caches: tuple[Path, dict[str, str]]) -> Path:
    """The whole rehearsal, run once: `snakemake` on the merged configs, through SLURM with FAIRFORGET_SLURM=1."""
    root, env = caches
    workdir = copy_workflow(root / "wf")
    planned = planned_jobs(workdir, *CONFIGS, env=env)
    assert planned == planned_rules(merged_config("paper.yaml", "rehearsal.yaml"))
    if not THROUGH_SLURM:
        snakemake(workdir, *CONFIGS, "--cores", "2", "--resources", "mem_mb=8000", timeout=3600, env=env)
        return workdir
    # as .ci/slurm_ci.sh runs the micro study: its environment and overlay profile, bounded by `timeout -k`
    # (a status poller that hangs cannot hang CI), then its sacct checks on the run's log
    env = env | slurm_ci_env()
    profile = slurm_ci_profile(root / "profile-ci")
    run = snakemake(
        workdir,
        *("--profile", "slurm_profile", "--profile", str(profile), *CONFIGS),
        timeout=3600,
        env=env,
        timeout_command=("timeout", "-k", "30", "3300"),
    )
    log = root / "slurm.log"
    log.write_text(run.stdout + run.stderr)
    # one SLURM job per job of an ungrouped rule (`all` runs in the driver), at least one per group
    grouped = yaml.safe_load((REPO / "slurm_profile" / "config.yaml").read_text())["groups"]
    groups = {grouped[rule] for rule in planned if rule in grouped}
    least = sum(jobs for rule, jobs in planned.items() if rule not in grouped and rule != "all") + len(groups)
    check = subprocess.run(
        ["bash", str(REPO / ".ci" / "slurm_ci.sh"), "check", str(log), str(least), *GPU_RULES],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert check.returncode == 0, check.stdout + check.stderr[-4000:]
    return workdir


def test_every_rule_of_the_paper_dag_ran(rehearsal: Path) -> None:
    rehearsal_config = merged_config("paper.yaml", "rehearsal.yaml")
    paper_rules = set(planned_rules(merged_config("paper.yaml"))) - {"all"}  # `all` only collects targets
    ran = benchmarked_jobs(rehearsal / RESULTS)
    assert paper_rules <= set(ran), f"rules of paper.yaml's DAG that did not run: {paper_rules - set(ran)}"
    expected = {rule: jobs for rule, jobs in planned_rules(rehearsal_config).items() if rule != "all"}
    assert ran == expected
    # the covering set: each objective, remedy, data size and model of paper.yaml in at least one run
    runs = run_grid(rehearsal_config)
    for axis, field in (("models", "model"), ("objectives", "objective"), ("remedies", "remedy")):
        assert {getattr(run, field) for run in runs} == set(rehearsal_config[axis])
    assert {run.size for run in runs} == {"1pct", "10pct", "full"}


def test_findings_written(rehearsal: Path) -> None:
    findings = (rehearsal / RESULTS / paths.FINDINGS).read_text()
    for claim in ("F1", "F2", "F3"):
        assert claim in findings


def test_every_checkpoint_and_provenance_record_is_valid(rehearsal: Path) -> None:
    results = rehearsal / RESULTS
    config = merged_config("paper.yaml", "rehearsal.yaml")
    checkpoints = [paths.under(results, paths.BASE_MODEL, model=model) for model in config["models"]]
    checkpoints += [paths.under(results, paths.FINETUNED_MODEL, **run.wildcards()) for run in run_grid(config)]
    for model_dir in checkpoints:
        assert model_dir_problem(model_dir, f"{model_dir}.sha256", full=True) is None
        verify_model_dir(model_dir)
    report = audit([results / paths.FINDINGS_PROVENANCE], root=rehearsal)
    assert report.ok, report.problems


def checkpoint_hashes(results: Path) -> dict[str, str]:
    """Every checkpoint's content hash (its `.sha256` sidecar) under a results tree, by path: base models and
    fine-tuned checkpoints."""
    models = results / Path(paths.BASE_MODEL).parts[0]
    return {str(f.relative_to(results)): f.read_text().strip() for f in sorted(models.rglob("*.sha256"))}


@pytest.mark.skipif(not THROUGH_SLURM, reason="compares the SLURM run with a local one (FAIRFORGET_SLURM=1)")
def test_through_slurm_same_checkpoints_as_locally(rehearsal: Path, caches: tuple[Path, dict[str, str]]) -> None:
    """The SLURM run and a plain local run (`--cores 2`) of the rehearsal train bit-identical checkpoints: on the
    fake-GPU node every job runs the CPU code a local run runs, with the same thread counts (2: the CI profile's
    `cores`, as `--cores 2` caps them locally; docs/paper-rehearsal.md). Up to the checkpoints only (`--until
    finetune`, as .ci/slurm_ci.sh compares the micro study): the local run of the evaluation, GLUE and analysis
    jobs would double the test's cost, and from bit-identical checkpoints they run the same CPU code."""
    root, env = caches
    local = copy_workflow(root / "wf-local")
    snakemake(
        local, *CONFIGS, "--cores", "2", "--resources", "mem_mb=8000", "--until", "finetune", timeout=2400, env=env
    )
    slurm, plain = checkpoint_hashes(rehearsal / RESULTS), checkpoint_hashes(local / RESULTS)
    config = merged_config("paper.yaml", "rehearsal.yaml")
    assert len(slurm) == len(config["models"]) + len(run_grid(config))
    assert slurm == plain
