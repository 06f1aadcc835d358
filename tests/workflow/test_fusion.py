"""Fusion in the micro study (rules/fusion.smk): the fused checkpoint, its results, the fusion table, findings and
figure, and incremental reruns (slow: reads the session's micro run; the dry runs take seconds)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
import yaml

from fairforget.config import run_grid
from fairforget.fusion.settings import FusionSettings, fused_runs
from fairforget.models.modeldir import read_sidecar, verify_model_dir
from workflow_helpers import planned_jobs

pytestmark = pytest.mark.slow

# on a CPU study evaluate_fused runs the fused checkpoint's downstream tasks too (no downstream_fused job)
FUSION_ONLY = {"fuse", "evaluate_fused", "fusion_table", "findings", "figures", "all"}


def _config(workdir: Path) -> dict:
    return yaml.safe_load((workdir / "config" / "micro.yaml").read_text())


def test_the_fused_checkpoint_records_both_parents_and_is_evaluated(micro_workflow: Path) -> None:
    results, config = micro_workflow / "results", _config(micro_workflow)
    (run,) = fused_runs(FusionSettings.from_config(config), run_grid(config))
    fused_dir = results / "fusion" / "alpha0.5" / "models" / "finetuned" / run.path
    manifest = verify_model_dir(fused_dir)
    assert manifest["fusion"]["alpha"] == 0.5
    assert manifest["fusion"]["base_hash"] == read_sidecar(results / "models" / "base" / f"{run.model}.sha256")
    assert manifest["fusion"]["debiased_hash"] == read_sidecar(results / "models" / "finetuned" / f"{run.path}.sha256")
    assert manifest["content_hash"] not in (manifest["fusion"]["base_hash"], manifest["fusion"]["debiased_hash"])
    evaluation = json.loads(
        (results / "fusion" / "alpha0.5" / "eval" / "finetuned" / run.path / "metrics.json").read_text()
    )
    assert evaluation["checkpoint_hash"] == manifest["content_hash"] and evaluation["run"]["alpha"] == 0.5
    assert any(name.startswith("overall_forgetting.") for name in evaluation["metrics"])
    assert not any(name.startswith("trajectory_forgetting.") for name in evaluation["metrics"])  # never trained
    downstream = sorted((results / "fusion" / "alpha0.5" / "downstream" / "finetuned" / run.path).rglob("seed*.json"))
    assert downstream and all(
        json.loads(p.read_text())["checkpoint_hash"] == manifest["content_hash"] for p in downstream
    )


def test_the_fusion_table_findings_and_frontier_show_the_path(micro_workflow: Path) -> None:
    results = micro_workflow / "results"
    table = pl.read_parquet(results / "tables" / "fusion.parquet")
    assert sorted(table["alpha"].to_list()) == [0.0, 0.5, 1.0]
    runs = pl.read_parquet(results / "tables" / "runs.parquet")
    unfused = table.filter(pl.col("alpha") == 1.0)
    assert (
        unfused["checkpoint_hash"].to_list()
        == runs.filter((pl.col("model") == unfused["model"][0]) & (pl.col("objective") == unfused["objective"][0]))[
            "checkpoint_hash"
        ].to_list()
    )
    assert table.filter(pl.col("alpha") == 0.0)["overall_forgetting.mean_loss_change"].to_list() == [0.0]
    findings = (results / "findings.md").read_text()
    assert "## Fusion: base and debiased weights interpolated (WiSE-FT)" in findings
    # the micro study has one remedy, so no fused-vs-remedy comparison: only the best-alpha rows' limit is said
    assert "| cda | 1 | " in findings
    assert "Not detectable here: The best-α rows' tests (threshold 0.05 / 3 weights) cannot reject with 1 unit(s):" in (
        findings
    )
    # the fused checkpoint's paired bias change against the base, in the fusion table and the bias section
    half = table.filter(pl.col("alpha") == 0.5)
    bias_change = next(c for c in table.columns if c.endswith("paired_change"))
    assert half[bias_change].null_count() == 0 and table.filter(pl.col("alpha") == 0.0)[bias_change].null_count() == 1
    assert f"### Fused checkpoints: `{bias_change}`" in findings and "| llama-tiny | " in findings
    frontier = json.loads((results / "figures" / "bias_vs_forgetting_frontier.provenance.json").read_text())
    assert "tables/fusion.parquet" in json.dumps(frontier)
    # the fused checkpoint's lineage reaches both parents in R's own layout
    lineage = json.dumps(json.loads((results / "tables" / "fusion.provenance.json").read_text()))
    assert "fusion/alpha0.5/models/finetuned/llama-tiny/cda/none/full/seed0/manifest.json" in lineage
    assert "results/models/finetuned/llama-tiny/cda/none/full/seed0/manifest.json" in lineage
    assert "fusion/alpha0.5/models/base" not in lineage


@pytest.mark.parametrize(
    "change",
    [{"alphas": [0, 0.25, 0.5, 1]}, {"objectives": ["cda", "none"]}],
    ids=["another weight", "another objective"],
)
def test_adding_fusion_plans_only_the_fusion_jobs_and_the_analysis(micro_workflow: Path, change: dict) -> None:
    config = _config(micro_workflow)
    config["fusion"].update(change)
    extended = micro_workflow / "config" / "micro_more_fusion.yaml"
    extended.write_text(yaml.safe_dump(config))
    planned = planned_jobs(micro_workflow, "--configfile", str(extended))
    assert set(planned) == FUSION_ONLY, planned  # no training, no checkpoint evaluation, no run table
    assert planned["fuse"] == planned["evaluate_fused"] == 1


def test_fusion_on_or_off_leaves_every_other_job_up_to_date(micro_workflow: Path) -> None:
    """Adding fusion to a study that had none runs only the fusion jobs and the analysis: with fusion turned off,
    the finished (fused) micro study plans only the analysis again, so no other job's inputs, params or code
    identity depend on the `fusion:` section (and the test above plans exactly the fusion jobs when it grows)."""
    config = _config(micro_workflow)
    config["fusion"]["enabled"] = False
    unfused = micro_workflow / "config" / "micro_without_fusion.yaml"
    unfused.write_text(yaml.safe_dump(config))
    planned = planned_jobs(micro_workflow, "--configfile", str(unfused))
    assert set(planned) <= {"findings", "figures", "all"}, planned
