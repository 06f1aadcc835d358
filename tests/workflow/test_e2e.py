"""End to end: the micro study through Snakemake, from shipped data to figures (slow: a few minutes).

Asserts that every output exists and holds finite values that follow from the inputs, that the toy base models
hold the planted stereotype and CDA lowers it in the causal toy (marker `learned`: thresholds measured across
seeds and CPU kernel paths), that a rerun plans nothing, and that adding an objective plans exactly that
objective's jobs.
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
GAP = "planted.logprob_gap"


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
    # the bias section (docs/metrics.md §5.2): every run's paired change of each score, its convention named
    bias = findings.split("## Bias: paired change of each checkpoint against its base", 1)[1]
    assert "### `crows_pairs.paired_change`: change in `crows_pairs.stereo_preference`" in bias
    assert "| llama-tiny | `crows_pairs.causal.one_pass_mean` | cda |" in bias
    assert "| bert-tiny | `crows_pairs.masked.metric_py` | cda |" in bias
    assert "No cell has 2 seeds or more" in bias  # the micro study has one seed
    per_target = [c for c in table.columns if c.startswith("stereoset.ss_paired_change_") and "." not in c[27:]]
    assert per_target and all(table[c].null_count() < table.height for c in per_target)
    for png in (results / "figures").glob("*.png"):
        assert png.stat().st_size > 1000
        assert png.with_suffix(".pdf").stat().st_size > 1000
        assert Path(f"{png}.provenance.json").is_file() or png.with_suffix(".provenance.json").is_file()


# The planted stereotype on the held-out probe pairs (docs/metrics.md §5, §8): preference in % of pairs, log-prob
# gap (stereo - anti) in nats (per token for the causal toy, whose pair score is the mean token log-probability).
# The thresholds below come from the micro study's outcomes measured in 9 runs (pretraining seeds 0-4 on torch's
# avx512 CPU kernel path, seeds 0-1 also on default and avx2; ATEN_CPU_CAPABILITY, AMD EPYC, torch 2.13, data after
# the WinoBias occupation split, scoring of main at 9146cd1), written beside each: a learned outcome varies with the
# seed and the kernel path, so a threshold must hold across that spread, not at one machine's value. The causal
# toy's numbers were the same on the three paths (not its checkpoint hashes); the masked toy's moved by up to 3.5
# points.


def _planted(metrics_json: Path) -> tuple[float, float]:
    return _metric(metrics_json, PLANTED), _metric(metrics_json, GAP)


def _runs(config: dict, model: str, objective: str) -> list:
    return [r for r in run_grid(config) if r.model == model and r.objective == objective]


def _models(config: dict, kind: str) -> list[str]:
    models = [m for m, cfg in config["models"].items() if cfg["kind"] == kind]
    assert models
    return models


# the causal toy's outcomes are the same on the three kernel paths (above): not rerun on the default path
@pytest.mark.learned(same_on_kernel_paths=True)
@pytest.mark.micro_kinds("causal")
def test_causal_toy_holds_planted_stereotype_and_cda_lowers_it(micro_evaluations: Path) -> None:
    results, config = micro_evaluations / "results", _config(micro_evaluations)
    for model in _models(config, "causal"):
        base, base_gap = _planted(results / "eval" / "base" / model / "metrics.json")
        # base: measured 80.5-90.0% (gap 0.156-0.180 nats per token)
        assert base >= 70.0 and base_gap >= 0.1, f"{model}: base prefers the stereotype in {base:.1f}% ({base_gap:.2f})"
        controls = {(r.remedy, r.size, r.seed): r for r in _runs(config, model, "none")}
        for run in _runs(config, model, "cda"):
            tuned, tuned_gap = _planted(results / "eval" / "finetuned" / run.path / "metrics.json")
            # CDA vs base: measured 8.5-27.0 points lower (gap 0.109-0.136 lower)
            assert tuned < base, f"{run.run_id}: CDA left the preference at {tuned:.1f}% (base {base:.1f}%)"
            assert tuned_gap <= base_gap - 0.06, f"{run.run_id}: gap {tuned_gap:.2f} vs base {base_gap:.2f}"
            # CDA vs `none`, the same fine-tuning without augmentation (0-1 points below the base): gap measured
            # 0.122-0.136 lower, so the drop is CDA's, not the drift of any fine-tuning
            _, control_gap = _planted(
                results / "eval" / "finetuned" / controls[run.remedy, run.size, run.seed].path / "metrics.json"
            )
            assert tuned_gap <= control_gap - 0.06, f"{run.run_id}: gap {tuned_gap:.2f} vs none {control_gap:.2f}"


@pytest.mark.learned
@pytest.mark.micro_kinds("masked")
def test_masked_toy_holds_planted_stereotype(micro_evaluations: Path) -> None:
    for model in _models(_config(micro_evaluations), "masked"):
        base, base_gap = _planted(micro_evaluations / "results" / "eval" / "base" / model / "metrics.json")
        # measured 85.0-94.5% (gap 1.93-2.38 nats)
        assert base >= 75.0 and base_gap >= 1.2, f"{model}: base prefers the stereotype in {base:.1f}% ({base_gap:.2f})"


@pytest.mark.learned
@pytest.mark.micro_kinds("masked")
def test_masked_toy_loses_the_planted_link_under_any_uniform_masking_fine_tuning(micro_evaluations: Path) -> None:
    """The known limit of docs/metrics.md §8, asserted as what is robust about it: fine-tuning with uniform MLM
    masking, which rarely hides the pronoun, erodes the masked toy's occupation-pronoun link whatever the
    objective, so at micro size `cda` cannot be told from the `none` control (measured cda - none: -6.5 to +6.5
    points). Whether CDA itself lowers it is therefore not asserted (a strict xfail on it passed or failed with the
    CPU); the causal toy carries that check."""
    results, config = micro_evaluations / "results", _config(micro_evaluations)
    for model in _models(config, "masked"):
        base, base_gap = _planted(results / "eval" / "base" / model / "metrics.json")
        for run in _runs(config, model, "none") + _runs(config, model, "cda"):
            tuned, tuned_gap = _planted(results / "eval" / "finetuned" / run.path / "metrics.json")
            # measured 8.5-21.0 points (gap 0.70-1.45 nats) below the base, none and cda alike
            assert tuned < base and tuned_gap <= base_gap - 0.4, (
                f"{run.run_id}: {tuned:.1f}% ({tuned_gap:.2f}) vs base {base:.1f}% ({base_gap:.2f})"
            )


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
    assert planned.get("finetune") == n_models
    # on CPU one evaluation job per checkpoint, which also runs every downstream task and seed
    assert planned.get("evaluate_checkpoint") == n_models
    assert set(planned) <= {
        "finetune",
        "evaluate_checkpoint",
        "aggregate_table",
        "fusion_table",  # reads the run table
        "findings",
        "figures",
        "all",
    }, planned
