"""The job builders (fairforget.jobs): every path from a paths template, the probe set of the model's source, and
one `Run` type from the wildcards to the job (the jobs' own round trip: tests/unit/training/test_job.py)."""

from __future__ import annotations

import copy
from pathlib import Path
from types import SimpleNamespace

import pytest

from fairforget import paths
from fairforget.config import run_grid
from fairforget.jobs import base_model_job, finetune_inputs, finetune_job
from fairforget.paths import Run
from workflow_helpers import validated_config


@pytest.fixture(scope="module")
def micro() -> dict:
    return validated_config("micro.yaml")


def test_a_finetune_job_takes_every_path_from_the_templates(micro: dict) -> None:
    run = run_grid(micro)[0]
    job = finetune_job(micro, run, "R")
    fields = run.wildcards()
    assert job.base_dir == f"R/models/base/{run.model}"
    assert job.out_dir == "R/" + paths.FINETUNED_MODEL.format(**fields)
    assert job.state_dir == "R/" + paths.TRAINING_STATE.format(**fields)
    assert job.data == {
        "source": "R/data/debias/source.arrow",
        "pairs": "R/data/debias/pairs.jsonl",
        "word_pairs": "R/data/debias/word_pairs.json",
        "replay": "R/data/debias/replay.arrow",
    }
    # a toy model's probe scores the planted pairs (its source's probe set)
    assert job.probe is not None and job.probe.pairs == "R/data/probes/planted.jsonl"
    assert job.probe.pair_set == "planted" and job.probe.general == "R/data/general/heldout.jsonl"
    assert set(finetune_inputs(micro, run.model, "R").values()) >= {job.base_dir, *job.data.values(), job.probe.pairs}


def test_a_pretrained_models_probe_scores_winobias(micro: dict) -> None:
    config = copy.deepcopy(micro)
    config["models"]["bert-tiny"]["source"] = "hub"
    run = Run("bert-tiny", "none", "none", "full", 0)
    job = finetune_job(config, run, "R")
    assert job.probe is not None and job.probe.pairs == "R/data/probes/winobias.jsonl"
    assert base_model_job(config, "bert-tiny", "R").texts == []  # a hub model trains on nothing the study makes


def test_one_run_type_from_wildcards_and_paths() -> None:
    wildcards = SimpleNamespace(model="m", objective="cda", remedy="none", size="10pct", seed="3")
    run = Run.of(wildcards)
    assert run == Run("m", "cda", "none", "10pct", 3) == Run.of(run.wildcards())
    info = paths.classify("R/" + paths.TRAIN_SUMMARY.format(**run.wildcards()))
    assert info is not None and info.run == run


def test_the_rules_wildcard_constraints_are_the_path_patterns() -> None:
    common = (Path(__file__).resolve().parents[2] / "rules" / "common.smk").read_text(encoding="utf-8")
    constraints = common.split("wildcard_constraints:", 1)[1].split("\n\n", 1)[0]
    assert constraints.strip() == "**paths.FIELD_PATTERNS,"
    assert set(paths.RUN_FIELDS) <= set(paths.FIELD_PATTERNS)
