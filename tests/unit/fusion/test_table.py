"""The fusion table (fairforget.fusion.table): its columns, and the table and findings written from result files."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl

from fairforget.analysis.settings import AnalysisSettings
from fairforget.analysis.synthetic import SyntheticStudy, write_synthetic_study
from fairforget.analysis.table import read_run_table
from fairforget.fusion.table import ALPHA, Columns
from fusion_helpers import fusion_frames


def test_columns_are_the_frontier_figures():
    _, run_frame = fusion_frames(units=2)
    c = Columns.of(run_frame, AnalysisSettings())
    assert (c.forgetting, c.bias, c.ideal) == ("overall_forgetting.mean_loss_change", "planted.stereo_preference", 50)


def test_fusion_table_and_findings_from_result_files(tmp_path):
    """The fusion table and findings.md's fusion section from files laid out as the fusion rules write them (the
    fused results here are copies of the runs' own, so the alpha = 0.5 rows must equal the alpha = 1 rows)."""
    from fairforget import pipeline
    from fairforget.analysis.results import classify
    from fairforget.fusion.table import read_fusion_table

    config = {"analysis": {"permutations": 199}, "fusion": {"enabled": True, "alphas": [0, 0.5, 1]}}
    paths = write_synthetic_study(tmp_path, SyntheticStudy(objectives=("none", "cda"), remedies=("none", "l2sp")))
    run_table = paths.aggregate(config)
    shared, fused = ([], []), ([], [])
    for index, group in enumerate((paths.eval_paths, paths.downstream_paths)):
        for path in map(Path, group):
            info = classify(path)
            if "objective" not in info.fields:
                shared[index].append(path)
            elif info.fields["remedy"] == "none":
                copy = paths.results / "fusion" / "alpha0.5" / path.relative_to(paths.results)
                copy.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, copy)
                fused[index].append(copy)
    out = tmp_path / "fusion.parquet"
    rows = pipeline.fusion_table(
        run_table,
        shared[0] + fused[0],
        shared[1] + fused[1],
        paths.meta_paths,
        [],
        out,
        tmp_path / "fusion.csv",
        config,
        repo_root=paths.repo,
    )
    table = read_fusion_table(out)
    runs = read_run_table(run_table).filter(pl.col("remedy") == "none")
    assert rows == table.height == 3 * runs.height
    c = Columns.of(read_run_table(run_table), AnalysisSettings())
    half, one = (table.filter(pl.col(ALPHA) == a).sort(["model", "objective", "seed"]) for a in (0.5, 1.0))
    assert (
        half[c.forgetting].to_list() == one[c.forgetting].to_list() and half[c.bias].to_list() == one[c.bias].to_list()
    )
    zero = table.filter(pl.col(ALPHA) == 0.0)
    assert (
        zero[c.forgetting].to_list() == [0.0] * runs.height
        and zero[c.bias].to_list() == zero[f"{c.bias}.base"].to_list()
    )
    assert (tmp_path / "fusion.provenance.json").is_file()
    findings = tmp_path / "findings.md"
    pipeline.findings(run_table, findings, config, repo_root=paths.repo, fusion_table_path=out)
    text = findings.read_text()
    assert text.index("## Fusion") > text.index("F1") and "| l2sp |" in text
