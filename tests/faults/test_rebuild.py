"""Outputs that prove themselves, through Snakemake on the micro study (docs/faults.md, the fault matrix).

Each test works on a copy of the session's finished micro study (conftest `micro_workflow`; `shutil.copytree`
keeps the files' modification times), damages it as a user, a crash or a copy would, and checks what Snakemake
then plans and does: a missing or corrupt product is rebuilt with a line saying why, a moved study plans nothing,
a new method plans its jobs with or without Snakemake's metadata, and a failing job's log names its cause.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from fairforget.models.modeldir import read_sidecar
from fairforget.workflow.logs import deterministic_marker
from micro_faults import (
    CHECKPOINT_AND_DEPENDANTS,
    CONFIG,
    FINETUNE_LOG,
    METRICS,
    MODEL_DIR,
    OTHER_RUN,
    REBUILD_LINE,
    RUN,
    SIDECAR,
    UPSTREAM,
    kill_session,
)
from micro_faults import plan as _plan
from workflow_helpers import snakemake

pytestmark = pytest.mark.slow


@pytest.fixture
def study(micro_study_copy: Path) -> Path:
    """A copy of the finished micro study in another folder (its metadata, store and mtimes kept)."""
    return micro_study_copy


def _write_config(workdir: Path, name: str, change) -> tuple[str, str]:
    config = yaml.safe_load((workdir / "config/micro.yaml").read_text())
    change(config)
    (workdir / "config" / name).write_text(yaml.safe_dump(config, sort_keys=False))
    return ("--configfile", f"config/{name}")


def _flip_byte(path: Path, keep_mtime: bool) -> None:
    stat = path.stat()
    with path.open("r+b") as handle:
        handle.seek(stat.st_size // 2)
        byte = handle.read(1)
        handle.seek(stat.st_size // 2)
        handle.write(bytes([byte[0] ^ 0x01]))
    if keep_mtime:
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_a_copied_study_plans_nothing_with_or_without_its_metadata(study: Path) -> None:
    """Moved or copied to another folder (inputs are named relative to the workflow), and as a fresh clone that
    receives results but no .snakemake/."""
    assert _plan(study)[0] == {}
    shutil.rmtree(study / ".snakemake")
    assert _plan(study)[0] == {}


def test_a_new_method_plans_its_jobs_in_a_copied_results_dir_without_metadata(study: Path) -> None:
    def with_method(config: dict) -> None:
        config["objectives"]["cda_again"] = config["objectives"]["cda"]

    expected = {"finetune": 2, "evaluate_checkpoint": 2}
    with_metadata, _ = _plan(study, *_write_config(study, "added.yaml", with_method))
    assert {rule: with_metadata.get(rule) for rule in expected} == expected, with_metadata
    assert not UPSTREAM & set(with_metadata) and "evaluate_base" not in with_metadata

    shutil.copytree(study / "results", study / "moved", symlinks=True)
    moved = _write_config(study, "moved.yaml", lambda config: config.update(results_dir="moved"))
    assert _plan(study, *moved)[0] == {}  # Snakemake has no metadata of moved/: nothing tells it to rerun
    added = _write_config(
        study, "moved_added.yaml", lambda config: (config.update(results_dir="moved"), with_method(config))
    )
    without_metadata, output = _plan(study, *added)
    assert without_metadata == with_metadata, output
    assert "fairforget: evaluate_checkpoint bert-tiny/cda_again/none/full/seed0 will run again: " in output


def test_a_deleted_checkpoint_is_rebuilt_identically_and_served_by_the_store(study: Path) -> None:
    reference = read_sidecar(study / SIDECAR)
    shutil.rmtree(study / MODEL_DIR)
    (study / SIDECAR).unlink()
    planned, output = _plan(study)
    assert {rule: planned.get(rule) for rule in CHECKPOINT_AND_DEPENDANTS} == dict.fromkeys(
        CHECKPOINT_AND_DEPENDANTS, 1
    )
    assert not UPSTREAM & set(planned)
    # the run's trajectory and training summary are still there: the checkpoint job's outputs are partial
    assert f"{REBUILD_LINE}{SIDECAR}, {MODEL_DIR} missing (partial output)" in output

    snakemake(study, "--cores", "2", *CONFIG, timeout=1200)
    assert read_sidecar(study / SIDECAR) == reference  # CPU training is bit-reproducible
    assert json.loads((study / METRICS).read_text())["cache"]["hit"] is True
    assert _plan(study)[0] == {}


def test_a_flipped_byte_is_found_cheaply_when_the_file_was_written_and_by_the_full_check_always(
    study: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    weights = study / MODEL_DIR / "model.safetensors"
    saved = weights.read_bytes(), weights.stat()
    _flip_byte(weights, keep_mtime=False)  # an edit in place: the file is now newer than its manifest
    planned, output = _plan(study)
    assert {rule: planned.get(rule) for rule in CHECKPOINT_AND_DEPENDANTS} == dict.fromkeys(
        CHECKPOINT_AND_DEPENDANTS, 1
    )
    assert f"{REBUILD_LINE}{MODEL_DIR}/model.safetensors: sha256 differs from the manifest's" in output

    weights.write_bytes(saved[0])
    os.utime(weights, ns=(saved[1].st_atime_ns, saved[1].st_mtime_ns))
    _flip_byte(weights, keep_mtime=True)  # bit rot: only re-hashing every file finds it
    assert _plan(study)[0] == {}
    monkeypatch.setenv("FAIRFORGET_VERIFY", "full")
    assert "finetune" in _plan(study)[0]


def test_a_job_never_serves_a_store_hit_for_a_checkpoint_that_fails_its_hash(
    study: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the plan-time checks off, a forced evaluation of a damaged checkpoint fails before the store lookup,
    its log names the cause, and it is not retried."""
    _flip_byte(study / MODEL_DIR / "model.safetensors", keep_mtime=False)
    monkeypatch.setenv("FAIRFORGET_VERIFY", "off")
    failed = snakemake(study, METRICS, "--forcerun", METRICS, "--cores", "1", *CONFIG, check=False)
    assert failed.returncode != 0
    log = study / f"results/logs/evaluate_checkpoint/{RUN}.log"
    text = log.read_text()
    assert f"checkpoint {MODEL_DIR} does not match its sidecar {SIDECAR}" in text
    assert "model.safetensors: sha256 differs" in text
    assert deterministic_marker(log).is_file()


def _fails_naming(workdir: Path, log: str, *args: str) -> str:
    """Run Snakemake (1 core) expecting a failure; the job's log, which must say it is not retried."""
    failed = snakemake(workdir, "--cores", "1", *args, check=False)
    assert failed.returncode != 0, failed.stdout[-2000:]
    assert deterministic_marker(workdir / log).is_file(), (workdir / log).read_text()[-2000:]
    return (workdir / log).read_text()


def test_each_failing_stage_names_its_cause_in_its_log(study: Path) -> None:
    """A store error (its folder is a file), a kind mismatch (a local causal model declared masked) and an edited
    shipped resource (one CrowS-Pairs line; last, since every stage that reads it would then rerun): each job
    fails, its log names the cause, and it is marked as not to be retried (a retry would fail the same way)."""
    shutil.move(study / "results/store", study / "results/store.aside")
    (study / "results/store").write_text("not a folder\n")
    log = _fails_naming(study, f"results/logs/evaluate_checkpoint/{RUN}.log", METRICS, "--forcerun", METRICS, *CONFIG)
    assert "uncaught StoreError: results/store/entries/" in log and "(Not a directory)" in log, log[-2000:]
    (study / "results/store").unlink()
    shutil.move(study / "results/store.aside", study / "results/store")

    def local_masked(config: dict) -> None:
        config["models"]["llama-local"] = {
            "kind": "masked",
            "source": "local",
            "local_path": "results/models/base/llama-tiny",
        }

    local = _write_config(study, "local.yaml", local_masked)
    log = _fails_naming(
        study, "results/logs/build_base_model/llama-local.log", "results/models/base/llama-local.sha256", *local
    )
    assert "models.llama-local.kind is 'masked'" in log and "declares a causal language model" in log, log[-2000:]
    assert "hf download" not in log

    crows = study / "resources/data/crows_pairs/crows_pairs_anonymized.csv"
    lines = crows.read_text(encoding="utf-8").splitlines(keepends=True)
    crows.write_text("".join([*lines[:5], "5,broken line\n", *lines[6:]]), encoding="utf-8")
    # prepare_planted reads CrowS-Pairs too: --keep-going, so that its failure cannot end the run first
    probes = "results/data/probes/meta.json"
    log = _fails_naming(study, "results/logs/prepare_probes/prepare_probes.log", probes, "--keep-going", *CONFIG)
    assert f"{crows.resolve()}: checksum mismatch" in log, log[-2000:]


def test_a_checkpoint_lost_to_a_killed_run_is_rebuilt(study: Path) -> None:
    """Snakemake and its jobs SIGKILLed while a fine-tuning job runs (the checkpoint it replaces is already
    removed), then the documented recovery (`--unlock`, `--rerun-incomplete`): the run is redone, not taken as
    finished because its evaluation is still on disk."""
    command = [str(Path(sys.executable).parent / "snakemake"), METRICS, "--forcerun", SIDECAR, "--cores", "1", *CONFIG]
    log = study / FINETUNE_LOG
    driver = subprocess.Popen(
        command, cwd=study, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 600
        while not (log.is_file() and log.stat().st_size and not (study / MODEL_DIR).exists()):
            assert driver.poll() is None and time.monotonic() < deadline, "the forced fine-tuning job never started"
            time.sleep(0.5)
    finally:
        kill_session(driver)
    snakemake(study, "--unlock", *CONFIG)
    planned, output = _plan(study, "--rerun-incomplete")
    assert {rule: planned.get(rule) for rule in CHECKPOINT_AND_DEPENDANTS} == dict.fromkeys(
        CHECKPOINT_AND_DEPENDANTS, 1
    )
    assert not UPSTREAM & set(planned), planned
    assert f"{REBUILD_LINE}{SIDECAR} is missing, while {METRICS} made from it exists" in output


@pytest.mark.parametrize("damage", ["evaluation of another checkpoint", "partial prepared data"])
def test_a_record_of_another_checkpoint_or_a_partial_data_product_is_rebuilt(study: Path, damage: str) -> None:
    """An evaluation result that names another checkpoint than the sidecar beside it (e.g. results merged from two
    studies), and a data preparation missing one of its files: each is planned again with a line saying why, and
    nothing upstream of it."""
    if damage == "evaluation of another checkpoint":
        other = f"results/eval/finetuned/{OTHER_RUN}/metrics.json"
        shutil.copy2(study / other, study / METRICS)
        rule, line = "evaluate_checkpoint", f"fairforget: evaluate_checkpoint {RUN} will run again: {METRICS} was made"
        not_planned = {"finetune", *UPSTREAM}
    else:
        (study / "results/data/probes/stereoset.jsonl").unlink()
        rule, line = "prepare_probes", "fairforget: prepare_probes will run again: results/data/probes/stereoset.jsonl"
        not_planned = UPSTREAM - {"prepare_probes"} | {"finetune", "build_base_model"}
    planned, output = _plan(study)
    assert planned.get(rule) == 1 and not not_planned & set(planned), planned
    assert line in output, output[-3000:]
