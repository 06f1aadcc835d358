"""One call per analysis rule: compute, write the products, write their provenance sidecars."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fairforget import provenance
from fairforget.analysis.figures import render_figures, save_figure
from fairforget.analysis.findings import Finding
from fairforget.analysis.findings_render import write_findings
from fairforget.analysis.report_names import VERDICTS
from fairforget.analysis.settings import AnalysisSettings
from fairforget.analysis.table import build_run_table, read_run_table, write_run_table
from fairforget.analysis.verdicts import verdict_blocks, verdicts_figure


def aggregate_table(
    eval_paths: Sequence[str | Path],
    downstream_paths: Sequence[str | Path],
    trajectory_paths: Sequence[str | Path],
    meta_paths: Sequence[str | Path],
    model_sidecars: Sequence[str | Path],
    parquet: str | Path,
    csv: str | Path,
    dictionary: str | Path,
    config: dict[str, Any],
    repo_root: str | Path = ".",
    code_root: str | Path | None = None,
    summary_paths: Sequence[str | Path] = (),
) -> int:
    """Build and write the tidy table (+ runs.provenance.json); return the number of runs."""
    settings = AnalysisSettings.from_config(config)
    inputs = [*eval_paths, *downstream_paths, *trajectory_paths, *meta_paths, *model_sidecars, *summary_paths]
    record = provenance.build_record("aggregate_table", inputs, config, repo_root, code_root)
    table = build_run_table(
        eval_paths, downstream_paths, trajectory_paths, meta_paths, settings, summary_paths=summary_paths
    )
    write_run_table(table, parquet, csv, dictionary)
    provenance.finish(record, [parquet, csv, dictionary], provenance.sidecar_for(parquet))
    return table.frame.height


def findings(
    table_path: str | Path,
    out: str | Path,
    config: dict[str, Any],
    repo_root: str | Path = ".",
    code_root: str | Path | None = None,
    figures_dir: str | Path | None = None,
) -> list[Finding]:
    """findings.md (+ findings.provenance.json) and, with `figures_dir`, the verdicts figure drawn from the same
    findings (figures/verdicts.{png,pdf} + its sidecar)."""
    settings = AnalysisSettings.from_config(config)
    record = provenance.build_record("findings", [table_path], config, repo_root, code_root)
    frame = read_run_table(table_path)
    result = write_findings(frame, settings, out)
    provenance.finish(record, [out], provenance.sidecar_for(out))
    if figures_dir is not None:
        figure = verdicts_figure(verdict_blocks(result, settings), frame.height, settings)
        save_figure(figure, figures_dir, VERDICTS, record)
    return result


def figures(
    table_path: str | Path,
    trajectory_paths: Sequence[str | Path],
    out_dir: str | Path,
    config: dict[str, Any],
    repo_root: str | Path = ".",
    code_root: str | Path | None = None,
) -> list[Path]:
    return render_figures(
        table_path,
        trajectory_paths,
        out_dir,
        AnalysisSettings.from_config(config),
        config,
        rule="figures",
        repo_root=repo_root,
        code_root=code_root,
    )
