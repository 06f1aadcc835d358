"""One call per analysis rule that may include the fusion results (findings, figures, fusion_table): compute, write
the products, write their provenance sidecars. It sits above `analysis` and `fusion` (`fusion` builds on
`analysis`'s statistics, so `analysis` cannot import it); the aggregate_table rule, which needs no fusion, calls
`analysis.table.aggregate_table`."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fairforget.analysis.bias_changes import model_kinds
from fairforget.analysis.bias_section import render_bias
from fairforget.analysis.claims import Finding
from fairforget.analysis.figure_set import figure_makers, save_figure
from fairforget.analysis.markdown import write_findings
from fairforget.analysis.report_names import FIGURE_NAMES, VERDICTS
from fairforget.analysis.settings import AnalysisSettings
from fairforget.analysis.table import read_run_table
from fairforget.analysis.verdicts_figure import verdict_blocks, verdicts_figure
from fairforget.fusion.report import render_fusion
from fairforget.fusion.settings import FusionSettings
from fairforget.fusion.table import build_fusion_table, read_fusion_table
from fairforget.fusion.verdict import analyse_fusion
from fairforget.provenance.lineage import sidecar_for
from fairforget.provenance.record import build_record, finish

log = logging.getLogger(__name__)


def findings(
    table_path: str | Path,
    out: str | Path,
    config: dict[str, Any],
    repo_root: str | Path = ".",
    code_root: str | Path | None = None,
    figures_dir: str | Path | None = None,
    fusion_table_path: str | Path | None = None,
) -> list[Finding]:
    """findings.md (+ findings.provenance.json) and, with `figures_dir`, the verdicts figure drawn from the same
    findings (figures/verdicts.{png,pdf} + its sidecar). After the claims, findings.md has the bias section
    (analysis.bias_section: paired changes against the base, fused checkpoints' too with `fusion_table_path`)
    and, with `fusion_table_path`, the fusion section (fairforget.fusion)."""
    settings = AnalysisSettings.from_config(config)
    inputs = [table_path] + ([fusion_table_path] if fusion_table_path is not None else [])
    record = build_record("findings", inputs, config, repo_root, code_root)
    frame = read_run_table(table_path)
    fusion = read_fusion_table(fusion_table_path) if fusion_table_path is not None else None
    causal_pair_score = str((config.get("evaluation") or {}).get("causal_pair_score", "mean"))
    sections = [render_bias(frame, settings, model_kinds(config), causal_pair_score, fusion)]
    if fusion is not None:
        fused = analyse_fusion(fusion, frame, settings, FusionSettings.from_config(config))
        sections.append(render_fusion(fused, settings))
    result = write_findings(frame, settings, out, sections)
    finish(record, [out], sidecar_for(out))
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
    fusion_table_path: str | Path | None = None,
) -> list[Path]:
    """All the figures from the tidy table and the trajectories (and the fusion table's paths in the frontier),
    each with provenance."""
    settings = AnalysisSettings.from_config(config)
    rule = "figures"
    frame = read_run_table(table_path)
    fusion = read_fusion_table(fusion_table_path) if fusion_table_path is not None else None
    tables = [table_path] + ([fusion_table_path] if fusion_table_path is not None else [])
    table_record = build_record(rule, tables, config, repo_root, code_root)
    makers = figure_makers(frame, trajectory_paths, settings, fusion)
    written: list[Path] = []
    for name in FIGURE_NAMES:
        record = (
            build_record(rule, list(trajectory_paths), config, repo_root, code_root)
            if name == "trajectory_forgetting"
            else table_record
        )
        written += save_figure(makers[name](), out_dir, name, record)
        log.info("wrote figure %s", name)
    return written


def fusion_table(
    run_table_path: str | Path,
    eval_paths: Sequence[str | Path],
    downstream_paths: Sequence[str | Path],
    meta_paths: Sequence[str | Path],
    sidecars: Sequence[str | Path],
    parquet: str | Path,
    csv: str | Path,
    config: dict[str, Any],
    repo_root: str | Path = ".",
    code_root: str | Path | None = None,
) -> int:
    """The fusion table (one row per fused run and weight) + its provenance sidecar; return its rows."""
    settings = AnalysisSettings.from_config(config)
    inputs = [run_table_path, *eval_paths, *downstream_paths, *meta_paths, *sidecars]
    record = build_record("fusion_table", inputs, config, repo_root, code_root)
    frame = build_fusion_table(
        read_run_table(run_table_path),
        eval_paths,
        downstream_paths,
        meta_paths,
        settings,
        FusionSettings.from_config(config),
    )
    Path(parquet).parent.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(parquet)
    frame.write_csv(csv)
    finish(record, [parquet, csv], sidecar_for(parquet))
    return frame.height
