"""Interrupted and failing jobs, through Snakemake on the micro study (docs/faults.md, the fault matrix).

Each test works on a copy of the session's finished micro study (conftest `micro_study_copy`) and runs only the
jobs it needs: it forces the one job it interrupts (Snakemake removes a forced job's outputs before it starts, so
the job starts as it would the first time) and asks for that job's evaluation only. Faults happen at one exact
point, not by timing: the test-only hook of `fairforget.io` (FAIRFORGET_FAULT_INJECT="<action>:<glob>") stops,
kills or fills the disk at the write of a matching file. Nothing half-written is ever accepted as complete (by
Snakemake, the model-dir check or the result store), the rerun redoes only the interrupted job and ends where an
uninterrupted run ends, an error a retry would repeat is not retried and one it may not is, and every rule
script's error is in its job's log.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from fairforget.errors import ModelError
from fairforget.io import FAULT_ENV, FAULT_ONCE_ENV
from fairforget.models.modeldir import read_sidecar, verify_model_dir
from fairforget.store import ResultStore
from fairforget.workflow.logs import deterministic_marker
from micro_faults import (
    CONFIG,
    FINETUNE_LOG,
    METRICS,
    MODEL_DIR,
    SIDECAR,
    UPSTREAM,
    plan,
    snakemake_killed_at_fault,
    temp_files,
)
from workflow_helpers import snakemake

pytestmark = pytest.mark.slow

# the interrupted job and the one result the tests ask for: its evaluation (served by the store when the
# rebuilt checkpoint has the reference hash)
FORCE_FINETUNE = (METRICS, "--forcerun", SIDECAR)


def _result(workdir: Path) -> dict:
    return json.loads((workdir / METRICS).read_text())


def _same_result(got: dict, reference: dict) -> None:
    for field in ("kind", "checkpoint_hash", "base_hash", "run", "metrics"):
        assert got[field] == reference[field], field
    assert got["cache"]["key"] == reference["cache"]["key"]


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
def test_run_killed_while_writing_checkpoint_is_redone_alone(micro_study_copy: Path, point: str) -> None:
    study = micro_study_copy
    reference_hash, reference = read_sidecar(study / SIDECAR), _result(study)
    glob = f"*/{MODEL_DIR}/manifest.json" if point == "manifest" else f"*/{SIDECAR}"
    output = snakemake_killed_at_fault(study, glob, *FORCE_FINETUNE, "--cores", "2", *CONFIG)
    assert "rule finetune" in output

    # Nothing half-written is accepted: the killed write left only its hidden temporary file.
    assert not (study / SIDECAR).exists()
    leftovers = temp_files(study / "results/models/finetuned")
    assert [p.name.split(".")[1] for p in leftovers] == ["manifest" if point == "manifest" else "seed0"]
    if point == "manifest":
        with pytest.raises(ModelError, match="no manifest.json: the directory is partial"):
            verify_model_dir(study / MODEL_DIR)
    else:
        assert verify_model_dir(study / MODEL_DIR)["content_hash"] == reference_hash

    # Snakemake refuses the interrupted job's outputs: a dry run names them as incomplete ...
    refused = snakemake(study, METRICS, "-n", *CONFIG, check=False)
    message = refused.stdout + refused.stderr
    assert refused.returncode != 0
    assert "IncompleteFilesException" in message and MODEL_DIR in message and "--rerun-incomplete" in message
    # ... and a real run first needs the killed run's lock removed (`--unlock`, which runs no job).
    locked = snakemake(study, METRICS, "--cores", "2", "--rerun-incomplete", *CONFIG, check=False)
    assert locked.returncode != 0 and "LockException" in locked.stdout + locked.stderr
    snakemake(study, "--unlock", *CONFIG)

    # What a user then runs plans the interrupted job and its dependent, nothing upstream.
    planned, _ = plan(study, METRICS, "--rerun-incomplete")
    assert planned == {"finetune": 1, "evaluate_checkpoint": 1}, planned
    assert not UPSTREAM & set(planned)

    rerun = snakemake(study, METRICS, "--cores", "2", "--rerun-incomplete", *CONFIG)
    assert "rule build_base_model" not in rerun.stdout + rerun.stderr
    # CPU training is bit-reproducible: the same checkpoint as the uninterrupted run, so the store answers.
    assert read_sidecar(study / SIDECAR) == reference_hash
    assert verify_model_dir(study / MODEL_DIR)["content_hash"] == reference_hash
    result = _result(study)
    _same_result(result, reference)
    assert result["cache"]["hit"] is True
    assert temp_files(study / MODEL_DIR) == []  # Snakemake removed the incomplete dir before rerunning
    assert plan(study, METRICS)[0] == {}


# ---- a transient failure is retried, a deterministic one is not ------------------------------------------------


def test_killed_finetune_job_is_retried_and_ends_identical(
    micro_study_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The job (not snakemake) is killed once, as the kernel's OOM killer would: a failure a retry may fix, so rule
    finetune's `retries` redoes it within the same invocation."""
    study = micro_study_copy
    reference_hash, reference = read_sidecar(study / SIDECAR), _result(study)
    fuse = study.parent / "fault.fuse"
    fuse.touch()
    monkeypatch.setenv(FAULT_ENV, f"kill:*/{MODEL_DIR}/manifest.json")
    monkeypatch.setenv(FAULT_ONCE_ENV, str(fuse))
    run = snakemake(study, *FORCE_FINETUNE, "--cores", "2", *CONFIG)
    output = run.stdout + run.stderr
    assert not fuse.exists(), "the fault never fired"
    assert "Error in rule finetune" in output and "Removing output files of failed job finetune" in output
    assert output.count("Finished jobid") == 2  # finetune (second attempt) and evaluate_checkpoint
    assert "rule build_base_model" not in output and "is not retried" not in output
    # Snakemake deleted the first attempt's log before the retry: its own copy survives and heads the rule's log
    log = study / FINETUNE_LOG
    first = log.with_name(log.name.replace(".log", ".attempt1.log"))
    assert first.is_file() and not log.with_name(log.name.replace(".log", ".attempt2.log")).exists()
    text = log.read_text()
    assert text.index("===== attempt 1 (kept in") < text.index("===== attempt 2 =====")
    assert first.read_text().strip() in text
    assert read_sidecar(study / SIDECAR) == reference_hash
    _same_result(_result(study), reference)
    assert temp_files(study / MODEL_DIR) == []


def test_a_full_disk_while_saving_a_checkpoint_names_the_folder_and_is_not_retried(
    micro_study_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """transformers' save_pretrained fails with a bare "No space left on device" (the hook raises it as the
    library does, without a file name): the job's log names the model folder, and the failure, which a retry would
    meet again, is not retried although rule finetune has `retries: 2`."""
    study = micro_study_copy
    monkeypatch.setenv(FAULT_ENV, f"enospc:*/{MODEL_DIR}")
    failed = snakemake(study, *FORCE_FINETUNE, "--cores", "2", *CONFIG, check=False)
    output = failed.stdout + failed.stderr
    assert failed.returncode != 0 and "Error in rule finetune" in output
    log = study / FINETUNE_LOG
    text = log.read_text()
    named = [line for line in text.splitlines() if "No space left on device while writing the model folder" in line]
    assert named and all(MODEL_DIR in line for line in named), text[-3000:]
    assert "===== attempt 2 =====" not in text and output.count("Error in rule finetune") == 1
    assert deterministic_marker(log).read_text().startswith("OSError: [Errno 28] No space left on device")
    assert "fairforget: finetune is not retried: OSError: [Errno 28] No space left on device" in output
    # nothing half-written is accepted: the failed job's outputs are gone, so the next run rebuilds the checkpoint
    assert not (study / MODEL_DIR).exists() and not (study / SIDECAR).exists()
    monkeypatch.delenv(FAULT_ENV)
    assert plan(study, METRICS)[0] == {"finetune": 1, "evaluate_checkpoint": 1}


# ---- the evaluation job killed, or out of disk, while writing its result --------------------------------------


@pytest.mark.parametrize(
    ("action", "point"),
    [
        ("kill", "store entry"),  # SIGKILL after computing, while writing the result store entry
        ("enospc", "metrics.json"),  # a full disk after the entry is stored, while writing the result file
    ],
)
def test_result_write_fault_leaves_nothing_accepted_and_rerun_redoes_the_job(
    micro_study_copy: Path, monkeypatch: pytest.MonkeyPatch, action: str, point: str
) -> None:
    study = micro_study_copy
    reference = _result(study)
    key = reference["cache"]["key"]
    if point == "store entry":
        # an empty store, so that the evaluation computes and writes its entry (the reference run wrote it before)
        shutil.rmtree(study / "results/store")
    store = ResultStore(study / "results/store")
    glob = "*/results/store/entries/*/*.json" if point == "store entry" else f"*/{METRICS}"
    monkeypatch.setenv(FAULT_ENV, f"{action}:{glob}")
    failed = snakemake(study, METRICS, "--forcerun", METRICS, "--cores", "2", *CONFIG, check=False)
    monkeypatch.delenv(FAULT_ENV)
    output = failed.stdout + failed.stderr
    assert failed.returncode != 0 and "Error in rule evaluate_checkpoint" in output
    if action == "enospc":
        assert f"No space left on device: '{METRICS}'" in output

    # Neither Snakemake nor the store accepts anything half-written.
    assert not (study / METRICS).exists()
    assert store.verify() == []
    if point == "store entry":
        assert store.get(key) is None and list(store.entry_paths()) == []
        assert len(store.temp_files()) == 1  # the killed write's temporary file, never read as an entry
    else:
        assert store.get(key)["metrics"] == reference["metrics"]  # stored whole before the failed write
        assert store.temp_files() == [] and temp_files(study / "results/eval") == []  # ENOSPC cleans up
    assert not any((study / ".snakemake/incomplete").iterdir())  # snakemake alive: it cleaned up the failed job

    assert plan(study, METRICS)[0] == {"evaluate_checkpoint": 1}
    snakemake(study, METRICS, "--cores", "2", *CONFIG)
    result = _result(study)
    _same_result(result, reference)
    assert result["cache"]["hit"] is (point == "metrics.json")  # served by the entry the failed job stored
    assert store.get(key)["metrics"] == reference["metrics"] and store.verify() == []


# ---- every rule script's error in its job's log ------------------------------------------------------------------


def _one_job_per_rule(workdir: Path) -> dict[str, tuple[str, str]]:
    """Rule -> (an output, its log) of the finished study, from Snakemake's `--summary`."""
    summary = snakemake(workdir, "--summary", *CONFIG).stdout
    jobs: dict[str, tuple[str, str]] = {}
    for line in summary.splitlines()[1:]:
        fields = line.split("\t")
        if len(fields) >= 4 and fields[3] not in ("", "-"):
            jobs.setdefault(fields[2], (fields[0], fields[3].split(",")[0]))
    return jobs


def test_every_rule_scripts_error_is_in_its_jobs_log(micro_study_copy: Path, tmp_path: Path) -> None:
    """Each rule script fails as it starts (the hook fires in `log_to`, right after the log is set up; that every
    script sets it up before any other work is tests/faults/test_messages.py's AST test): the job's log holds the
    error with its traceback and is marked as not to be retried. One job of each rule with a log is forced; a job
    whose forced upstream job failed cannot start, so it is tried again on a fresh copy of the study, until every
    rule has failed once."""
    jobs = _one_job_per_rule(micro_study_copy)
    scripts = {path.stem for path in (Path(__file__).resolve().parents[2] / "workflow_scripts").glob("[!_]*.py")}
    # downstream_base and downstream_finetuned (also downstream_fused's script) are rules on GPU studies only: on CPU
    # studies such as micro a model's evaluation job runs its downstream tasks (rules/inputs/downstream.smk); that
    # their scripts log before any work is tests/faults/test_messages.py's AST test
    scripts -= {"downstream_base", "downstream_finetuned"}
    # evaluate.py is the script of the three evaluation rules: each of them must fail once
    if "evaluate" in scripts:
        scripts = (scripts - {"evaluate"}) | {"evaluate_base", "evaluate_checkpoint", "evaluate_fused"}
    assert scripts <= set(jobs), f"rule scripts without a rule of their name: {sorted(scripts - set(jobs))}"
    remaining = dict(jobs)
    for attempt in range(1, len(jobs) + 1):
        study = Path(shutil.copytree(micro_study_copy, tmp_path / f"round{attempt}", symlinks=True))
        shutil.rmtree(study / "results/logs")  # so that a log holds only what this round's job wrote
        targets = [output for output, _ in remaining.values()]
        env = {FAULT_ENV: "enospc:*/results/logs/*"}
        failed = snakemake(study, *targets, "--force", "--keep-going", "--cores", "2", *CONFIG, env=env, check=False)
        assert failed.returncode != 0
        for rule, (_, log) in list(remaining.items()):
            if (study / log).is_file():
                text = (study / log).read_text()
                assert f"uncaught OSError: [Errno 28] No space left on device: '{log}'" in text, (rule, text)
                assert "Traceback (most recent call last)" in text, (rule, text)
                assert deterministic_marker(study / log).is_file(), rule
                del remaining[rule]
        shutil.rmtree(study)
        if not remaining:
            return
    raise AssertionError(f"these rules never ran: {sorted(remaining)}")
