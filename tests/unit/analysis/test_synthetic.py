"""Synthetic studies (fairforget.analysis.synthetic): one result file per run and task as the workflow lays them
out, the planted relations written exactly, seeded, and readable by the analysis' own reader."""

from __future__ import annotations

from pathlib import Path

import pytest

from fairforget.analysis.results import load_result
from fairforget.analysis.synthetic import SyntheticStudy, write_synthetic_study
from fairforget.models.modeldir import read_sidecar, verify_model_dir

STUDY = SyntheticStudy(models=("bert-tiny",), objectives=("none", "cda"), remedies=("none", "l2sp"), seeds=(0, 1),
                       tasks=("sst2",), noise=0.0, remedy_effect=0.25)  # fmt: skip


def test_one_file_per_run_and_task_at_the_workflows_paths(tmp_path: Path) -> None:
    paths = write_synthetic_study(tmp_path, STUDY)
    runs = 1 * 2 * 2 * 1 * 2  # models x objectives x remedies x sizes x seeds
    assert len(paths.truth) == runs
    # and the base model's: one evaluation, one downstream result per task and downstream seed
    assert len(paths.eval_paths) == runs + 1 and len(paths.downstream_paths) == runs + 1
    assert paths.results / "eval/base/bert-tiny/metrics.json" in paths.eval_paths
    first = paths.results / "eval/finetuned/bert-tiny/none/none/full/seed0/metrics.json"
    assert first in paths.eval_paths and load_result(first)["metrics"]["planted.stereo_preference"]["value"] > 50
    checkpoint = paths.results / "models/finetuned/bert-tiny/none/none/full/seed0"
    assert verify_model_dir(checkpoint)["content_hash"] == read_sidecar(f"{checkpoint}.sha256")


def test_the_planted_relations_hold_exactly_without_noise(tmp_path: Path) -> None:
    truth = write_synthetic_study(tmp_path, STUDY).truth
    for run, values in truth.items():
        model, objective, remedy, size, seed = run.split("__")
        offset = 0.1 * STUDY.objectives.index(objective) + (STUDY.remedy_effect if remedy != "none" else 0.0)
        assert values["overall"] == pytest.approx(STUDY.f_slope * values["selective"] + offset)
        assert values["downstream_change"] == pytest.approx(STUDY.downstream_slope * values["overall"])
    # a remedy and its no-remedy twin share the selective draw of their cell
    assert (
        truth["bert-tiny__cda__l2sp__full__seed1"]["selective"]
        == truth["bert-tiny__cda__none__full__seed1"]["selective"]
    )


def test_the_same_seed_writes_the_same_study(tmp_path: Path) -> None:
    assert write_synthetic_study(tmp_path / "a", STUDY).truth == write_synthetic_study(tmp_path / "b", STUDY).truth
