"""The fusion table: one row per fused run and weight alpha, the ends from the base model (alpha = 0) and the run
table (alpha = 1), the weights in between from the fused checkpoints' results (docs/metrics.md, section 11)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from fairforget.analysis import columns as cols
from fairforget.analysis.bias_changes import paired_score_of
from fairforget.analysis.results import classify
from fairforget.analysis.settings import AnalysisSettings
from fairforget.analysis.table import build_run_table
from fairforget.errors import DataError
from fairforget.fusion.settings import FILTER_KEYS, FusionSettings

UNIT_KEYS = ["model", "objective", "remedy", "size", "seed"]
ALPHA = "alpha"


@dataclass(frozen=True)
class Columns:
    """The run-table columns the fusion analysis reads (chosen as the frontier figure chooses them)."""

    forgetting: str
    bias: str
    ideal: float | None
    downstream: str | None

    @classmethod
    def of(cls, frame: pl.DataFrame, settings: AnalysisSettings) -> Columns:
        forgetting = cols.overall_forgetting_column(frame, settings)
        bias = cols.bias_column(frame, settings)
        if forgetting is None or bias is None:
            raise DataError("fusion: the run table has no overall forgetting or no bias column")
        return cls(forgetting, bias, cols.bias_ideal(bias, settings), cols.downstream_change_column(frame))

    def distance(self, values: pl.Expr) -> pl.Expr:
        return values if self.ideal is None else (values - self.ideal).abs()


def _selected(frame: pl.DataFrame, fusion: FusionSettings) -> pl.DataFrame:
    """The rows of the runs the `fusion:` filter selects."""
    for key, column in zip(FILTER_KEYS, ("model", "objective", "remedy", "seed")):
        values = getattr(fusion, key)
        if values is not None:
            frame = frame.filter(pl.col(column).is_in(list(values)))
    return frame


def _alpha_of(root: Path) -> float:
    name = root.name
    if not name.startswith("alpha"):
        raise DataError(f"{root}: not a fused results folder (fusion/alpha<weight>)")
    return float(name[len("alpha") :])


def build_fusion_table(
    run_frame: pl.DataFrame,
    eval_paths: Sequence[str | Path],
    downstream_paths: Sequence[str | Path],
    meta_paths: Sequence[str | Path],
    settings: AnalysisSettings,
    fusion: FusionSettings,
) -> pl.DataFrame:
    """One row per fused run and configured weight: the identity, `alpha`, `checkpoint_hash`, and the overall
    forgetting, bias (+ `.base`) and downstream change columns of the run table; and the bias score's paired
    change against the base (+ CI, McNemar p) where the run table has it (null at alpha = 0, the base itself)."""
    c = Columns.of(run_frame, settings)
    keep = [*UNIT_KEYS, ALPHA, "checkpoint_hash", c.forgetting, c.bias, f"{c.bias}.base"]
    keep += [c.downstream] if c.downstream else []
    paired = [name for name in paired_columns(c.bias) if name in run_frame.columns]
    units = _selected(run_frame, fusion)
    if units.is_empty():
        raise DataError("fusion: the `fusion:` filter selects no run of the run table")
    parts = [
        units.with_columns(pl.lit(1.0).alias(ALPHA)),
        units.with_columns(
            pl.lit(0.0).alias(ALPHA),
            pl.col("base_hash").alias("checkpoint_hash"),
            pl.lit(0.0).alias(c.forgetting),
            pl.col(f"{c.bias}.base").alias(c.bias),
            *([pl.lit(0.0).alias(c.downstream)] if c.downstream else []),
            *(pl.lit(None, dtype=pl.Float64).alias(name) for name in paired),
        ),
    ]
    by_alpha: dict[float, tuple[list[Path], list[Path]]] = {}
    shared: tuple[list[Path], list[Path]] = ([], [])
    for index, group in enumerate((eval_paths, downstream_paths)):
        for path in map(Path, group):
            info = classify(path)
            if info is None:
                raise DataError(f"{path}: not a result file of the workflow")
            if info.kind in ("eval_base", "downstream_base"):
                shared[index].append(path)
            else:
                by_alpha.setdefault(_alpha_of(info.root), ([], []))[index].append(path)
    for alpha, (evals, downstream) in sorted(by_alpha.items()):
        table = build_run_table([*shared[0], *evals], [*shared[1], *downstream], (), meta_paths, settings)
        fused = table.frame.with_columns(pl.lit(alpha).alias(ALPHA))
        missing = [name for name in keep if name not in fused.columns]
        if missing:
            raise DataError(f"fusion results at alpha={alpha:g} lack column(s) {', '.join(missing)}")
        absent = [pl.lit(None, dtype=pl.Float64).alias(name) for name in paired if name not in fused.columns]
        parts.append(fused.with_columns(absent))
    frame = pl.concat([part.select(keep + paired) for part in parts], how="vertical_relaxed")
    return frame.sort([*UNIT_KEYS, ALPHA])


def paired_columns(bias: str) -> list[str]:
    """The paired-change columns of a bias score (analysis.bias_changes): the change, its CI, the McNemar p."""
    score = paired_score_of(bias)
    if score is None:
        return []
    return [score.column, f"{score.column}.ci_low", f"{score.column}.ci_high", score.sibling("mcnemar_p")]


def read_fusion_table(path: str | Path) -> pl.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    frame = pl.read_parquet(path)
    missing = [c for c in [*UNIT_KEYS, ALPHA] if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}")
    return frame
