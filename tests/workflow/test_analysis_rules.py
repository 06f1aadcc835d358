"""rules/analysis.smk under Snakemake on a synthetic study laid out like the real results."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml
from PIL import Image

from fairforget.analysis.report_names import FIGURE_NAMES, REPORT_LABELS
from fairforget.analysis.synthetic import SyntheticStudy, write_synthetic_study
from fairforget.browser import HeadlessChromium, find_chromium
from fairforget.provenance.audit import audit
from fairforget.provenance.report import format_lineage
from workflow_helpers import planned_jobs, snakemake

REPO = Path(__file__).resolve().parents[2]
# Clicks the first element whose own text is `text` (the report's menu entries).
CLICK_TEXT = "[...document.querySelectorAll('span')].find(e => e.textContent.trim() == {text}).click()"
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
    config["fusion"] = {"enabled": False}  # the synthetic study has no fused checkpoints
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


@pytest.mark.slow  # starts Snakemake (a dry run): not in the fast tier
def test_dry_run_plans_the_three_analysis_rules(tmp_path):
    counts = planned_jobs(_workflow(tmp_path))
    assert counts.get("aggregate_table") == 1 and counts.get("findings") == 1 and counts.get("figures") == 1


@pytest.fixture(scope="module")
def analysed(tmp_path_factory) -> Path:
    """The synthetic study analysed under Snakemake, with its HTML report (report.html)."""
    work = _workflow(tmp_path_factory.mktemp("analysis"))
    snakemake(work, "--cores", "1")
    snakemake(work, "--report", "report.html")
    return work


@pytest.mark.slow
def test_analysis_rules_and_report(analysed):
    work = analysed
    results = work / "results"
    for name in ("downstream_vs_overall_forgetting", "trajectory_forgetting"):
        assert Image.open(results / "figures" / f"{name}.png").text["fairforget.rule"] == "figures"
    assert Image.open(results / "figures" / "verdicts.png").text["fairforget.rule"] == "findings"
    assert (results / "logs/figures/figures.log").is_file()
    assert (results / "benchmarks/aggregate_table/aggregate_table.tsv").is_file()
    snakemake(work, "--report", "report.zip")
    assert (work / "report.zip").stat().st_size > 10000
    # The sidecars written under Snakemake reach the raw data through the lineage, and all still verify.
    report = audit(sorted(results.rglob("*.provenance.json")))
    assert report.ok and report.sidecars == 9, report.problems
    tree = format_lineage(results / "figures/downstream_vs_overall_forgetting.png")
    assert "resources/SHA256SUMS [raw_data_checksums]" in tree and "[base_manifest]" in tree


def _caption_start(name: str, words: int = 6) -> str:
    """The first words of a figure's caption (report/NAME.rst) as the report renders them: no rst markup."""
    text = (REPO / "report" / f"{name}.rst").read_text()
    plain = re.sub(r"\*\*|``|\{\{.*?\}\}", "", text)
    return " ".join(plain.split()[:words])


@pytest.mark.slow
def test_html_report_opens_in_headless_chromium(analysed):
    """The report opens in a real browser without console errors, lists the verdicts figure first, and shows
    every figure (its image decoded at the PNG's size) with its caption."""
    if find_chromium() is None:
        pytest.skip("no Chromium on PATH (chromium, chromium-browser, google-chrome): apt-get install chromium")
    figures = analysed / "results" / "figures"
    page = (analysed / "report.html").as_uri()
    names = ["verdicts", *FIGURE_NAMES]
    shown: dict[str, str] = {}
    with HeadlessChromium() as browser:
        for name in names:
            browser.open(page)
            browser.evaluate(CLICK_TEXT.format(text=json.dumps("Figures")))
            browser.pause(0.3)
            rows = browser.evaluate("[...document.querySelectorAll('tbody tr td:first-child')].map(t => t.innerText)")
            assert rows[0].startswith("1. Verdicts"), rows
            assert len(rows) == len(names), rows
            label = REPORT_LABELS[name]
            index = rows.index(label)
            browser.evaluate(f"document.querySelectorAll('a[iconname=eye]')[{index}].click()")
            browser.pause(0.5)
            images = browser.evaluate(
                "[...document.querySelectorAll('img')].filter(i => i.src.startsWith('data:image/png'))"
                ".map(i => [i.complete, i.naturalWidth, i.naturalHeight])"
            )
            with Image.open(figures / f"{name}.png") as png:
                assert images == [[True, *png.size]], f"{name}: images shown {images}"
            browser.evaluate(f"document.querySelectorAll('a[iconname=information-circle]')[{index}].click()")
            browser.pause(0.5)
            shown[name] = " ".join(browser.evaluate("document.body.innerText").split())
        problems = browser.problems.all
    assert not problems, "\n".join(problems)
    for name, text in shown.items():
        assert _caption_start(name) in text, f"{name}: caption not shown ({_caption_start(name)!r})"
