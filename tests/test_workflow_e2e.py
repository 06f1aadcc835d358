"""End to end: the micro study through Snakemake, from shipped data to figures (slow: a few minutes).

Asserts that every output exists and holds finite values that follow from the inputs, that the toy base model
holds the planted stereotype and CDA lowers it, that a rerun plans nothing, and that adding an objective plans
exactly that objective's jobs.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import polars as pl
import pytest
import yaml

from fairforget.config import run_grid
from fairforget.models.modeldir import read_sidecar, verify_model_dir
from workflow_helpers import planned_jobs

pytestmark = pytest.mark.slow

CONFIG = ("--configfile", "config/micro.yaml")
PLANTED = "planted.stereo_preference"


def _config(workdir: Path) -> dict:
    return yaml.safe_load((workdir / "config" / "micro.yaml").read_text())


def _metric(path: Path, name: str) -> float:
    value = json.loads(path.read_text())["metrics"][name]["value"]
    assert value is not None and math.isfinite(value), f"{path}: {name} = {value}"
    return value


def test_every_output_exists_and_is_finite(micro_workflow: Path) -> None:
    results = micro_workflow / "results"
    config = _config(micro_workflow)
    runs = run_grid(config)
    for model in config["models"]:
        manifest = verify_model_dir(results / "models" / "base" / model)
        assert read_sidecar(results / "models" / "base" / f"{model}.sha256") == manifest["content_hash"]
    for run in runs:
        checkpoint = results / "models" / "finetuned" / run.path
        manifest = verify_model_dir(checkpoint)
        base = verify_model_dir(results / "models" / "base" / run.model)
        assert manifest["parent_hash"] == base["content_hash"]
        assert manifest["content_hash"] != base["content_hash"], f"{run.run_id}: training changed nothing"
        metrics = results / "eval" / "finetuned" / run.path / "metrics.json"
        assert _metric(metrics, "overall_forgetting.mean_loss_change") != 0.0
        for task in config["data"]["downstream"]["tasks"]:
            result = json.loads((results / "downstream" / "finetuned" / run.path / task / "seed0.json").read_text())
            assert result["checkpoint_hash"] == manifest["content_hash"]
            assert all(math.isfinite(v["value"]) for v in result["metrics"].values() if v["value"] is not None)
    table = pl.read_parquet(results / "tables" / "runs.parquet")
    assert table.height == len(runs)
    assert set(table["run_id"].to_list()) == {run.run_id for run in runs}
    csv = pl.read_csv(results / "tables" / "runs.csv")
    assert csv.height == table.height
    findings = (results / "findings.md").read_text()
    assert "F1" in findings and "F2" in findings and "F3" in findings
    for png in (results / "figures").glob("*.png"):
        assert png.stat().st_size > 1000
        assert png.with_suffix(".pdf").stat().st_size > 1000
        assert Path(f"{png}.provenance.json").is_file() or png.with_suffix(".provenance.json").is_file()


def _base_holds_planted(results: Path, model: str) -> float:
    base = _metric(results / "eval" / "base" / model / "metrics.json", PLANTED)
    assert base >= 65.0, f"{model}: toy base prefers the stereotype in only {base:.1f}% of probe pairs"
    return base


def _planted_check(results: Path, config: dict, model: str) -> None:
    base = _base_holds_planted(results, model)
    for run in (r for r in run_grid(config) if r.model == model and r.objective == "cda"):
        tuned = _metric(results / "eval" / "finetuned" / run.path / "metrics.json", PLANTED)
        assert tuned < base - 5.0, f"{run.run_id}: CDA left planted preference at {tuned:.1f} (base {base:.1f})"


def test_causal_toy_holds_planted_stereotype_and_cda_lowers_it(micro_workflow: Path) -> None:
    config = _config(micro_workflow)
    models = [m for m, cfg in config["models"].items() if cfg["kind"] == "causal"]
    assert models
    for model in models:
        _planted_check(micro_workflow / "results", config, model)


def _masked_models(config: dict) -> list[str]:
    models = [m for m, cfg in config["models"].items() if cfg["kind"] == "masked"]
    assert models
    return models


def test_masked_toy_holds_planted_stereotype(micro_workflow: Path) -> None:
    for model in _masked_models(_config(micro_workflow)):
        _base_holds_planted(micro_workflow / "results", model)


@pytest.mark.xfail(strict=True, reason="known limit (docs/metrics.md §8): CDA fine-tuning with uniform MLM masking "
                   "barely touches the masked toy's pronoun link (micro: base 76.8%, cda 74.5%, none 61.5%); strict, "
                   "so this fails as soon as CDA does lower it and the xfail must go")
def test_masked_toy_cda_lowers_planted_stereotype(micro_workflow: Path) -> None:
    config = _config(micro_workflow)
    for model in _masked_models(config):
        _planted_check(micro_workflow / "results", config, model)


def test_rerun_plans_nothing(micro_workflow: Path) -> None:
    assert planned_jobs(micro_workflow, *CONFIG) == {}


def test_adding_an_objective_plans_only_its_jobs(micro_workflow: Path, tmp_path: Path) -> None:
    plugin = tmp_path / "throwaway_objective.py"
    plugin.write_text(
        "from fairforget.training.objectives.none import ContinuedPretraining\n"
        "from fairforget.training.plugins import OBJECTIVES\n\n"
        "@OBJECTIVES.register('throwaway')\n"
        "class Throwaway(ContinuedPretraining):\n"
        "    pass\n"
    )
    config = _config(micro_workflow)
    config["plugins"] = [str(plugin)]
    config["objectives"]["throwaway"] = {"type": "throwaway"}
    extended = micro_workflow / "config" / "micro_extended.yaml"
    extended.write_text(yaml.safe_dump(config))
    planned = planned_jobs(micro_workflow, "--configfile", str(extended))
    n_models = len(config["models"])
    n_tasks = len(config["data"]["downstream"]["tasks"])  # one downstream job per task runs all its seeds
    assert planned.get("finetune") == n_models
    assert planned.get("evaluate_checkpoint") == n_models
    assert planned.get("downstream_finetuned") == n_models * n_tasks
    assert set(planned) <= {"finetune", "evaluate_checkpoint", "downstream_finetuned", "aggregate_table",
                            "findings", "figures", "all"}, planned
