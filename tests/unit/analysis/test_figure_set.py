"""Figures: all six written as PNG + PDF, non-empty, carrying provenance; robust to tiny studies."""

import json

import pytest
from PIL import Image

from fairforget import pipeline
from fairforget.analysis.frontier_figure import pareto_front
from fairforget.analysis.report_names import FIGURE_NAMES
from fairforget.analysis.synthetic import SyntheticStudy, write_synthetic_study
from fairforget.io import read_json

CONFIG = {"analysis": {"permutations": 199, "seed": 0}}
PROVENANCE_KEYS = (
    "fairforget.rule",
    "fairforget.config_hash",
    "fairforget.code_version",
    "fairforget.checkpoint_hashes",
    "fairforget.provenance",
)


def _run_analysis(root, study):
    paths = write_synthetic_study(root, study)
    results = paths.results
    paths.aggregate(CONFIG, summaries=False)
    pipeline.findings(results / "tables/runs.parquet", results / "findings.md", CONFIG, repo_root=root)
    pipeline.figures(
        results / "tables/runs.parquet", paths.trajectory_paths, results / "figures", CONFIG, repo_root=root
    )
    return paths


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("figs")
    return _run_analysis(root, SyntheticStudy(remedies=("none", "l2sp"), sizes=("50", "full")))


def test_all_figures_exist_with_provenance(study):
    figures = study.results / "figures"
    table_sidecar = read_json(study.results / "tables/runs.provenance.json")
    for name in FIGURE_NAMES:
        png, pdf = figures / f"{name}.png", figures / f"{name}.pdf"
        assert png.stat().st_size > 5000 and pdf.stat().st_size > 5000
        text = Image.open(png).text
        for key in PROVENANCE_KEYS:
            assert text.get(key), f"{png} lacks PNG text chunk {key}"
        assert text["fairforget.rule"] == "figures"
        sidecar = read_json(figures / f"{name}.provenance.json")
        assert text["fairforget.config_hash"] == sidecar["config_hash"]
        assert {o["path"].rsplit("/", 1)[-1] for o in sidecar["outputs"]} == {png.name, pdf.name}
        assert sidecar["checkpoint_hashes"], name
        assert set(sidecar["checkpoint_hashes"]) <= set(table_sidecar["checkpoint_hashes"])
        assert b"fairforget.config_hash" in pdf.read_bytes()
    # 16 runs + 2 base models behind the table.
    assert len(table_sidecar["checkpoint_hashes"]) == 2 * 2 * 2 * 2 + 2


def test_checkpoint_hashes_embedded_match_table(study):
    text = Image.open(study.results / "figures/downstream_vs_overall_forgetting.png").text
    sidecar = read_json(study.results / "figures/downstream_vs_overall_forgetting.provenance.json")
    assert text["fairforget.checkpoint_hashes"].split() == sidecar["checkpoint_hashes"]


def test_tiny_study_renders_with_notes(tmp_path):
    paths = _run_analysis(tmp_path, SyntheticStudy(models=("bert-tiny",), objectives=("none", "cda")))
    for name in FIGURE_NAMES:
        assert (paths.results / "figures" / f"{name}.png").stat().st_size > 2000
    findings = (paths.results / "findings.md").read_text()
    assert "inconclusive" in findings


def test_pareto_front():
    points = [(0.1, 0.9), (0.2, 0.5), (0.3, 0.6), (0.4, 0.2), (0.5, 0.3), (0.05, 1.0)]
    assert pareto_front(points) == [5, 0, 1, 3]
    assert pareto_front([]) == []


def test_sidecar_is_valid_json_with_code_and_packages(study):
    sidecar = json.loads((study.results / "findings.provenance.json").read_text())
    assert sidecar["rule"] == "findings"
    assert "commit" in sidecar["code_version"] and "dirty" in sidecar["code_version"]
    assert sidecar["packages"]["polars"] and sidecar["packages"]["numpy"]
    assert sidecar["host"] and sidecar["created"]
