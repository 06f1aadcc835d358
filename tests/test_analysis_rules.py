"""rules/analysis.smk under Snakemake on a synthetic study laid out like the real results."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from PIL import Image

from fairforget.analysis.synthetic import SyntheticStudy, write_synthetic_study
from fairforget.provenance import audit, format_lineage
from workflow_helpers import planned_jobs, snakemake

REPO = Path(__file__).resolve().parent.parent
SNAKEFILE = """configfile: "config.yaml"

report: "report/workflow.rst"

include: "rules/common.smk"
include: "rules/analysis.smk"


rule all:
    input:
        final_outputs(),
    default_target: True
"""


def _workflow(tmp_path: Path) -> Path:
    work = tmp_path / "wf"
    (work / "rules").mkdir(parents=True)
    for name in ("common.smk", "analysis.smk", "inputs/analysis.smk"):
        (work / "rules" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / "rules" / name, work / "rules" / name)
    for folder in ("workflow_scripts", "report", "envs"):
        if (REPO / folder).is_dir():
            shutil.copytree(REPO / folder, work / folder)
    (work / "Snakefile").write_text(SNAKEFILE)
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["analysis"] = {"permutations": 199, "seed": 0}
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    study = SyntheticStudy(
        models=tuple(config["models"]),
        objectives=tuple(config["objectives"]),
        remedies=tuple(config["remedies"]),
        tasks=tuple(config["data"]["downstream"]["tasks"]),
        downstream_seeds=tuple(config["downstream"]["seeds"]),
    )
    write_synthetic_study(work, study)
    return work


def test_dry_run_plans_the_three_analysis_rules(tmp_path):
    counts = planned_jobs(_workflow(tmp_path))
    assert counts.get("aggregate_table") == 1 and counts.get("findings") == 1 and counts.get("figures") == 1


@pytest.mark.slow
def test_analysis_rules_and_report(tmp_path):
    work = _workflow(tmp_path)
    snakemake(work, "--cores", "1")
    results = work / "results"
    for name in ("downstream_vs_overall_forgetting", "trajectory_forgetting"):
        assert Image.open(results / "figures" / f"{name}.png").text["fairforget.rule"] == "figures"
    assert (results / "logs/figures/figures.log").is_file()
    assert (results / "benchmarks/aggregate_table/aggregate_table.tsv").is_file()
    snakemake(work, "--report", "report.zip")
    assert (work / "report.zip").stat().st_size > 10000
    # The sidecars written under Snakemake reach the raw data through the lineage, and all still verify.
    report = audit(sorted(results.rglob("*.provenance.json")))
    assert report.ok and report.sidecars == 9, report.problems
    tree = format_lineage(results / "figures/downstream_vs_overall_forgetting.png")
    assert "resources/SHA256SUMS [raw_data_checksums]" in tree and "[base_manifest]" in tree
