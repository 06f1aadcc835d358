"""One call per analysis rule: compute, write the products, write their provenance sidecars."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fairforget import provenance
from fairforget.analysis.figures import render_figures, save_figure
from fairforget.analysis.findings import Finding
from fairforget.analysis.findings_render import write_findings
from fairforget.analysis.fusion import analyse_fusion, build_fusion_table, read_fusion_table, render_fusion
from fairforget.analysis.report_names import VERDICTS
from fairforget.analysis.settings import AnalysisSettings
from fairforget.analysis.table import build_run_table, read_run_table, write_run_table
from fairforget.analysis.verdicts import verdict_blocks, verdicts_figure
from fairforget.fusion import FusionSettings
from fairforget.io import atomic_write_text


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
    fusion_table_path: str | Path | None = None,
) -> list[Finding]:
    """findings.md (+ findings.provenance.json) and, with `figures_dir`, the verdicts figure drawn from the same
    findings (figures/verdicts.{png,pdf} + its sidecar); with `fusion_table_path`, findings.md ends with the
    fusion section (fairforget.analysis.fusion)."""
    settings = AnalysisSettings.from_config(config)
    inputs = [table_path] + ([fusion_table_path] if fusion_table_path is not None else [])
    record = provenance.build_record("findings", inputs, config, repo_root, code_root)
    frame = read_run_table(table_path)
    result = write_findings(frame, settings, out)
    if fusion_table_path is not None:
        fused = analyse_fusion(
            read_fusion_table(fusion_table_path), frame, settings, FusionSettings.from_config(config)
        )
        atomic_write_text(out, Path(out).read_text(encoding="utf-8") + "\n" + render_fusion(fused, settings))
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
    fusion_table_path: str | Path | None = None,
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
        fusion_table_path=fusion_table_path,
    )


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
    record = provenance.build_record("fusion_table", inputs, config, repo_root, code_root)
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
    provenance.finish(record, [parquet, csv], provenance.sidecar_for(parquet))
    return frame.height
