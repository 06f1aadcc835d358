"""Workflow-level faults on a tiny study (one model, one run) in a throw-away copy of the repository.

A job SIGKILLed while it writes a checkpoint or a result, a full disk, and a config that drops a method:
nothing half-written is ever accepted as complete (by Snakemake, the model-dir check or the result store),
the rerun redoes only the interrupted job (and what depends on it) and ends where an uninterrupted run ends,
and nothing the user did not ask to delete is deleted.

Faults are injected at one exact point, not by timing: the test-only hook in `fairforget.io`
(FAIRFORGET_FAULT_INJECT="<action>:<glob>") interrupts the atomic write of a matching file after its
temporary file is written and before the rename. The study is finished once (module fixture); each test
works on its own copy of that finished directory and forces the job it interrupts to run again
(Snakemake removes a forced job's outputs before it starts, so the job starts as it would the first time).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
import yaml
from conftest import load_config

from fairforget.errors import ModelError
from fairforget.io import FAULT_ENV, FAULT_ONCE_ENV
from fairforget.models.modeldir import read_sidecar, verify_model_dir
from fairforget.store import ResultStore
from workflow_helpers import copy_workflow, planned_jobs, snakemake

pytestmark = pytest.mark.slow

CONFIG_NAME = "config/faults.yaml"
CONFIG = ("--configfile", CONFIG_NAME)
RUN = "llama-tiny/none/none/full/seed0"
TARGET = f"results/eval/finetuned/{RUN}/metrics.json"
MODEL_DIR = f"results/models/finetuned/{RUN}"
SIDECAR = f"{MODEL_DIR}.sha256"
UPSTREAM = {"prepare_general", "prepare_planted", "prepare_debias", "build_base_model", "evaluate_base"}


def tiny_config() -> dict:
    """config/micro.yaml cut to one causal toy model, one objective and the smallest sizes that still run."""
    config = load_config("micro.yaml")
    config["study"] = "faults"
    config["data"]["general"].update(pretrain_max_examples=150, heldout_max_examples=12)
    config["data"]["planted_stereotype"]["n_sentences"] = 150
    config["data"]["debias"].update(n_general=24, n_planted=24)
    config["data"]["probes"]["max_pairs"] = 12
    config["data"]["downstream"].update(train_max_examples=16, dev_max_examples=8)
    llama = config["models"]["llama-tiny"]
    llama["architecture"].update(hidden_size=32, intermediate_size=64, vocab_size=600)
    llama["pretrain"]["epochs"] = 1
    config["models"] = {"llama-tiny": llama}
    config["objectives"] = {"none": {"type": "none"}}
    config.pop("fusion")  # not what these tests are about (and micro's fuses cda)
    config["training"].update(batch_size=8, probe_every_steps=2, probe_max_examples=8)
    config["evaluation"].update(metrics=["overall_forgetting", "planted"], bootstrap_samples=20)
    config["downstream"]["epochs"] = 1
    config["analysis"]["permutations"] = 199
    return config


def _write_config(workdir: Path, config: dict, name: str = CONFIG_NAME) -> None:
    (workdir / name).write_text(yaml.safe_dump(config, sort_keys=False))


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The tiny study run, uninterrupted, up to the run's evaluation (~1 min on 2 shared cores); returns the
    working directory and a pristine copy of it."""
    root = tmp_path_factory.mktemp("faults")
    workdir = copy_workflow(root / "wf")
    _write_config(workdir, tiny_config())
    snakemake(workdir, TARGET, "--cores", "2", *CONFIG)
    return workdir, Path(shutil.copytree(workdir, root / "pristine", symlinks=True))


@pytest.fixture
def study(finished: tuple[Path, Path]) -> Path:
    """The finished study, restored from the pristine copy for each test, at the same path (mtimes and
    Snakemake's metadata kept)."""
    workdir, pristine = finished
    shutil.rmtree(workdir)
    shutil.copytree(pristine, workdir, symlinks=True)
    for leftover in workdir.parent.glob("fault.*"):
        leftover.unlink()
    return workdir


def _planned(workdir: Path, *flags: str) -> dict[str, int]:
    # the target goes after a plain flag (--nolock: dry runs take no lock), or --quiet/--configfile take it
    return planned_jobs(workdir, *CONFIG, *flags, "--nolock", TARGET)


def _result(workdir: Path) -> dict:
    return json.loads((workdir / TARGET).read_text())


def _same_result(got: dict, reference: dict) -> None:
    for field in ("kind", "checkpoint_hash", "base_hash", "run", "metrics"):
        assert got[field] == reference[field], field
    assert got["cache"]["key"] == reference["cache"]["key"]


def _temp_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob(".*.tmp"))


def _live_session_pids(sid: int) -> list[int]:
    """Processes of session `sid` that are not zombies (a killed process whose parent died too stays a zombie
    until init reaps it; it is dead already)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if os.getsid(int(entry.name)) == sid and state != "Z":
                    pids.append(int(entry.name))
            except (OSError, IndexError):  # gone meanwhile
                pass
    return pids


def _snakemake_killed_at_fault(workdir: Path, glob: str, *args: str, timeout: float = 600) -> str:
    """Start snakemake in its own session; when the hook has frozen the job at the fault point, SIGKILL
    snakemake and every process of its session at once (a node failure, or `kill -9` of the whole run)."""
    fuse = workdir.parent / "fault.fuse"
    fuse.touch()
    env = {
        **os.environ,
        "PYTHONHASHSEED": "0",
        "TQDM_DISABLE": "1",
        FAULT_ENV: f"stop:{glob}",
        FAULT_ONCE_ENV: str(fuse),
    }
    log = workdir.parent / "fault.killed_run.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "snakemake"), *args],
            cwd=workdir,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + timeout
            while fuse.exists():
                assert process.poll() is None, f"snakemake ended before the fault fired:\n{log.read_text()[-4000:]}"
                assert time.monotonic() < deadline, "the fault never fired"
                time.sleep(0.1)
        finally:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=60)
            deadline = time.monotonic() + 30
            while (alive := _live_session_pids(process.pid)) and time.monotonic() < deadline:
                for pid in alive:  # a job in another process group would escape killpg
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                time.sleep(0.2)
    assert _live_session_pids(process.pid) == [], "processes of the killed run survived"
    return log.read_text()


# ---- SIGKILL of the whole run while the finetune job writes its checkpoint ------------------------------------


@pytest.mark.parametrize(
    "point",
    [
        # weights, config and tokenizer written; the manifest (written last, it marks the dir complete) is not
        "manifest",
        # the model dir is complete and verifies; its sidecar, which the downstream rules depend on, is not
        "sidecar",
    ],
)
def test_run_killed_while_writing_checkpoint_is_redone_alone(study: Path, point: str) -> None:
    reference_hash, reference = read_sidecar(study / SIDECAR), _result(study)
    glob = f"*/{MODEL_DIR}/manifest.json" if point == "manifest" else f"*/{SIDECAR}"
    output = _snakemake_killed_at_fault(study, glob, TARGET, "--forcerun", "finetune", "--cores", "2", *CONFIG)
    assert "rule finetune" in output

    # Nothing half-written is accepted: the killed write left only its hidden temporary file.
    assert not (study / SIDECAR).exists()
    leftovers = _temp_files(study / "results/models/finetuned")
    assert [p.name.split(".")[1] for p in leftovers] == ["manifest" if point == "manifest" else "seed0"]
    if point == "manifest":
        with pytest.raises(ModelError, match="no manifest.json: the directory is partial"):
            verify_model_dir(study / MODEL_DIR)
    else:
        assert verify_model_dir(study / MODEL_DIR)["content_hash"] == reference_hash

    # Snakemake refuses the interrupted job's outputs: a dry run names them as incomplete ...
    refused = snakemake(study, TARGET, "-n", *CONFIG, check=False)
    message = refused.stdout + refused.stderr
    assert refused.returncode != 0
    assert "IncompleteFilesException" in message and MODEL_DIR in message and "--rerun-incomplete" in message
    # ... and a real run first needs the killed run's lock removed (`--unlock`, which runs no job).
    locked = snakemake(study, TARGET, "--cores", "2", "--rerun-incomplete", *CONFIG, check=False)
    assert locked.returncode != 0 and "LockException" in locked.stdout + locked.stderr
    snakemake(study, "--unlock", *CONFIG)

    # What a user then runs plans the interrupted job and its dependent, nothing upstream.
    planned = _planned(study, "--rerun-incomplete")
    assert planned == {"finetune": 1, "evaluate_checkpoint": 1}, planned
    assert not UPSTREAM & set(planned)

    rerun = snakemake(study, TARGET, "--cores", "2", "--rerun-incomplete", *CONFIG)
    assert "rule build_base_model" not in rerun.stdout + rerun.stderr
    # CPU training is bit-reproducible: the same checkpoint as the uninterrupted run, so the store answers.
    assert read_sidecar(study / SIDECAR) == reference_hash
    assert verify_model_dir(study / MODEL_DIR)["content_hash"] == reference_hash
    result = _result(study)
    _same_result(result, reference)
    assert result["cache"]["hit"] is True
    assert _temp_files(study / MODEL_DIR) == []  # Snakemake removed the incomplete dir before rerunning
    assert _planned(study) == {}


# ---- SIGKILL of the finetune job alone: Snakemake sees the failure and its retry redoes the job ---------------


def test_killed_finetune_job_is_retried_and_ends_identical(study: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The job (not snakemake) is killed once, as the kernel's OOM killer would; rule finetune's `retries`
    redoes it within the same invocation."""
    reference_hash, reference = read_sidecar(study / SIDECAR), _result(study)
    fuse = study.parent / "fault.fuse"
    fuse.touch()
    monkeypatch.setenv(FAULT_ENV, f"kill:*/{MODEL_DIR}/manifest.json")
    monkeypatch.setenv(FAULT_ONCE_ENV, str(fuse))
    run = snakemake(study, TARGET, "--forcerun", "finetune", "--cores", "2", *CONFIG)
    monkeypatch.delenv(FAULT_ENV)
    output = run.stdout + run.stderr
    assert not fuse.exists(), "the fault never fired"
    assert "Error in rule finetune" in output and "Removing output files of failed job finetune" in output
    assert output.count("Finished jobid") == 2  # finetune (second attempt) and evaluate_checkpoint
    assert "rule build_base_model" not in output
    # Snakemake deleted the first attempt's log before the retry: its own copy survives and heads the rule's log
    log = study / f"results/logs/finetune/{RUN}.log"
    first = study / f"results/logs/finetune/{RUN}.attempt1.log"
    assert first.is_file() and not (study / f"results/logs/finetune/{RUN}.attempt2.log").exists()
    text = log.read_text()
    assert text.index("===== attempt 1 (kept in") < text.index("===== attempt 2 =====")
    assert first.read_text().strip() in text
    assert read_sidecar(study / SIDECAR) == reference_hash
    _same_result(_result(study), reference)
    assert _temp_files(study / MODEL_DIR) == []


# ---- the evaluation job killed, or out of disk, while writing its result --------------------------------------


@pytest.mark.parametrize(
    ("action", "point"),
    [
        ("kill", "store entry"),  # SIGKILL after computing, while writing the result store entry
        ("enospc", "metrics.json"),  # a full disk after the entry is stored, while writing the result file
    ],
)
def test_result_write_fault_leaves_nothing_accepted_and_rerun_redoes_the_job(
    study: Path, monkeypatch: pytest.MonkeyPatch, action: str, point: str
) -> None:
    reference = _result(study)
    key = reference["cache"]["key"]
    # An empty store, so the evaluation computes and writes its entry (the reference run wrote it before).
    shutil.rmtree(study / "results/store")
    store = ResultStore(study / "results/store")
    glob = "*/results/store/entries/*/*.json" if point == "store entry" else f"*/{TARGET}"
    monkeypatch.setenv(FAULT_ENV, f"{action}:{glob}")
    failed = snakemake(study, TARGET, "--forcerun", "evaluate_checkpoint", "--cores", "2", *CONFIG, check=False)
    monkeypatch.delenv(FAULT_ENV)
    output = failed.stdout + failed.stderr
    assert failed.returncode != 0 and "Error in rule evaluate_checkpoint" in output
    if action == "enospc":
        assert f"No space left on device: '{TARGET}'" in output

    # Neither Snakemake nor the store accepts anything half-written.
    assert not (study / TARGET).exists()
    assert store.verify() == []
    if point == "store entry":
        assert store.get(key) is None and list(store.entry_paths()) == []
        assert len(store.temp_files()) == 1  # the killed write's temporary file, never read as an entry
    else:
        assert store.get(key)["metrics"] == reference["metrics"]  # stored whole before the failed write
        assert store.temp_files() == [] and _temp_files(study / "results/eval") == []  # ENOSPC cleans up
    assert not any((study / ".snakemake/incomplete").iterdir())  # snakemake alive: it cleaned up the failed job

    planned = _planned(study)
    assert planned == {"evaluate_checkpoint": 1}, planned

    snakemake(study, TARGET, "--cores", "2", *CONFIG)
    result = _result(study)
    _same_result(result, reference)
    assert result["cache"]["hit"] is (point == "metrics.json")  # served by the entry the failed job stored
    assert store.get(key)["metrics"] == reference["metrics"] and store.verify() == []


# ---- a method that leaves the config ---------------------------------------------------------------------------


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_checkpoints_of_methods_that_left_the_config_are_kept(study: Path) -> None:
    """Replace objective `none` by `cda` and run the whole study: the `none` run's checkpoint, training record,
    evaluation and store entry stay as they were, though the analysis now covers `cda` only."""
    results = study / "results"
    kept = {name: _tree(results / name) for name in ("models", "training", "eval")}
    entries = _tree(results / "store" / "entries")
    config = tiny_config()
    config["objectives"] = {"cda": {"type": "cda", "params": {"sided": "two"}}}
    _write_config(study, config, "config/faults_cda.yaml")

    snakemake(study, "--cores", "2", "--configfile", "config/faults_cda.yaml")

    for name, before in kept.items():
        after = _tree(results / name)
        assert {path: after.get(path) for path in before} == before, f"results/{name} lost or changed files"
    assert verify_model_dir(results / "models/finetuned" / RUN)["content_hash"] == read_sidecar(study / SIDECAR)
    assert {p: b for p, b in _tree(results / "store" / "entries").items() if p in entries} == entries
    table = pl.read_parquet(results / "tables" / "runs.parquet")
    assert set(table["objective"]) == {"cda"}
