"""The analysis rules' entry points (fairforget.pipeline) on a small synthetic study: findings.md with its sidecar
and, only when asked, the verdicts figure from the same findings; every figure with the record of the inputs it
was drawn from (the trajectories for the trajectory figure, the run table for the others). The fusion table:
tests/unit/fusion/test_table.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from fairforget import pipeline
from fairforget.analysis.report_names import FIGURE_NAMES, VERDICTS
from fairforget.analysis.synthetic import SyntheticPaths, SyntheticStudy, write_synthetic_study
from fairforget.io import read_json

CONFIG = {"analysis": {"permutations": 99}}


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> SyntheticPaths:
    root = tmp_path_factory.mktemp("pipeline")
    paths = write_synthetic_study(root, SyntheticStudy(models=("bert-tiny",), objectives=("none", "cda")))
    paths.aggregate(CONFIG, summaries=False)
    return paths


def _inputs(sidecar: Path) -> list[str]:
    return [entry["path"] for entry in read_json(sidecar)["inputs"]]


def test_findings_writes_the_markdown_and_draws_the_verdicts_only_when_asked(study: SyntheticPaths) -> None:
    results, table = study.results, study.results / "tables/runs.parquet"
    found = pipeline.findings(table, results / "findings.md", CONFIG, repo_root=study.repo)
    assert [f.key for f in found] == ["F1", "F2", "F3"]
    text = (results / "findings.md").read_text(encoding="utf-8")
    assert all(f.key in text for f in found)
    assert _inputs(results / "findings.provenance.json") == ["results/tables/runs.parquet"]
    assert not (results / "figures").exists()
    pipeline.findings(table, results / "findings.md", CONFIG, repo_root=study.repo, figures_dir=results / "figures")
    assert (results / "figures" / f"{VERDICTS}.png").is_file()
    assert read_json(results / "figures" / f"{VERDICTS}.provenance.json")["rule"] == "findings"


def test_each_figure_records_the_inputs_it_was_drawn_from(study: SyntheticPaths) -> None:
    out = study.results / "figure_set"
    written = pipeline.figures(
        study.results / "tables/runs.parquet", study.trajectory_paths, out, CONFIG, repo_root=study.repo
    )
    assert sorted(p.name for p in written) == sorted(f"{n}.{ext}" for n in FIGURE_NAMES for ext in ("png", "pdf"))
    trajectories = sorted(p.relative_to(study.repo).as_posix() for p in map(Path, study.trajectory_paths))
    for name in FIGURE_NAMES:
        inputs = _inputs(out / f"{name}.provenance.json")
        if name == "trajectory_forgetting":
            assert sorted(inputs) == trajectories
        else:
            assert inputs == ["results/tables/runs.parquet"]
