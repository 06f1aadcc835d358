"""Each bias score's paired change against the base, as the run table holds it (docs/metrics.md §5.2), and its
mean over fine-tuning seeds with an interval whose unit of replication is the seed (§5.3).

The evaluation writes, per bias score of a checkpoint, `<group>[.<convention>].paired_change` (StereoSet:
`ss_paired_change`) with a paired bootstrap interval over items, the flips and the exact McNemar p (`mcnemar_p`).
`paired_scores` finds those columns; `seed_interval` is the across-seed interval:

    mean = (1/k) sum_s d_s,  sd = sqrt(sum_s (d_s - mean)^2 / (k - 1)),  mean +- t_{1 - alpha/2, k - 1} sd / sqrt(k)

over the k >= 2 seeds' changes d_s of one (model, objective, remedy, size) cell (Student 1908; the one-sample
t interval, e.g. Casella & Berger 2002, §9.2.1). Unit of replication: the fine-tuning seed. Every seed's change is
measured on the same items against the same base model, so the interval covers the mean change over seeds *on
these items and this base* (the item sampling shared by all seeds is in each run's paired bootstrap interval,
not here), and it assumes the seeds' changes are independent and roughly normal: a seed changes the data
subsample, the initialisation of new weights and the batch order, nothing else a cell's runs share. With k = 2 it
is wide by design (t_{0.975, 1} = 12.7).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from fairforget.analysis.settings import BIAS_GROUPS
from fairforget.metrics.conventions import default_convention

# The change statistics of the evaluation (metrics/paired.py): pair sets, StereoSet's macro SS.
CHANGE_STATISTICS = ("paired_change", "ss_paired_change")
# What each change is a change of.
SCORE_OF = {"paired_change": "stereo_preference", "ss_paired_change": "ss"}
CELL = ("model", "objective", "remedy", "size")


@dataclass(frozen=True)
class PairedScore:
    """One bias score's change columns: `<group>[.<short>].<statistic>`."""

    group: str  # crows_pairs, stereoset, planted, winobias
    short: str | None  # the convention's column infix; None: the metric's own columns
    statistic: str  # paired_change | ss_paired_change

    @property
    def prefix(self) -> str:
        return f"{self.group}." + (f"{self.short}." if self.short else "")

    @property
    def column(self) -> str:
        return self.prefix + self.statistic

    @property
    def score(self) -> str:
        """The column of the score whose change this is, e.g. `crows_pairs.lm_eval.stereo_preference`."""
        return self.prefix + SCORE_OF[self.statistic]

    def sibling(self, statistic: str) -> str:
        """Another statistic of the same score and convention, e.g. `mcnemar_p`."""
        return self.prefix + statistic

    def convention(self, kind: str | None, causal_pair_score: str = "mean") -> str:
        """The convention the score follows for a model of `kind` (metrics/conventions.py, docs/metrics.md §5.1)."""
        if kind is None:
            return "unknown (model kind not in the config)"
        if self.short is not None:
            return f"{self.group}.{kind}.{self.short}"
        return default_convention(self.group, kind, causal_pair_score)


def _parse(column: str) -> PairedScore | None:
    parts = column.split(".")
    if len(parts) not in (2, 3) or parts[0] not in BIAS_GROUPS or parts[-1] not in CHANGE_STATISTICS:
        return None
    return PairedScore(parts[0], parts[1] if len(parts) == 3 else None, parts[-1])


def paired_scores(frame: pl.DataFrame) -> list[PairedScore]:
    """The bias scores with a paired change in `frame` (at least one value), the metric's own column first, then
    each convention by name, groups in BIAS_GROUPS order."""
    found = [s for c in frame.columns if (s := _parse(c)) is not None and frame[c].null_count() < frame.height]
    return sorted(found, key=lambda s: (BIAS_GROUPS.index(s.group), s.short is not None, s.short or ""))


def paired_score_of(bias_column: str | None) -> PairedScore | None:
    """The change columns of a bias score column (`crows_pairs.stereo_preference`, `stereoset.bias_bench.ss`),
    None when the score has no paired change (a per-type preference, LMS, a gap)."""
    if bias_column is None:
        return None
    parts = bias_column.split(".")
    statistic = {v: k for k, v in SCORE_OF.items()}.get(parts[-1])
    if statistic is None or len(parts) not in (2, 3):
        return None
    return _parse(".".join([*parts[:-1], statistic]))


@dataclass(frozen=True)
class SeedInterval:
    """Mean change over seeds with its t interval (None below 2 seeds) and the seeds' standard deviation."""

    mean: float | None
    low: float | None
    high: float | None
    sd: float | None
    seeds: int


def seed_interval(changes: Sequence[float | None], alpha: float = 0.05) -> SeedInterval:
    """The (1 - alpha) t interval of the mean over the seeds' changes (module docstring); missing values left
    out. A constant set of changes has the interval [mean, mean]."""
    values = np.array([v for v in changes if v is not None and math.isfinite(v)], np.float64)
    k = len(values)
    if k == 0:
        return SeedInterval(None, None, None, None, 0)
    mean = float(values.mean())
    if k < 2:
        return SeedInterval(mean, None, None, None, 1)
    from scipy import stats as scipy_stats

    sd = float(values.std(ddof=1))
    half = float(scipy_stats.t.ppf(1 - alpha / 2, k - 1)) * sd / math.sqrt(k)
    return SeedInterval(mean, mean - half, mean + half, sd, k)


def seed_cells(frame: pl.DataFrame, column: str, alpha: float = 0.05) -> list[tuple[dict[str, str], SeedInterval]]:
    """Per (model, objective, remedy, size) cell with >= 2 seeds' changes in `column`: the cell and its
    interval, cells in sorted order."""
    part = frame.filter(pl.col(column).is_not_null()).select([*CELL, "seed", column])
    out = []
    for key, group in part.group_by(list(CELL)):
        if group.height >= 2:
            cell = {name: str(value) for name, value in zip(CELL, key)}
            out.append((cell, seed_interval(group.sort("seed")[column].to_list(), alpha)))
    return sorted(out, key=lambda item: tuple(item[0][name] for name in CELL))


def model_kinds(config: Mapping[str, object]) -> dict[str, str]:
    """model name -> kind ("masked" | "causal") from the config's `models:`."""
    models = config.get("models") or {}
    assert isinstance(models, Mapping)
    return {str(name): str(spec.get("kind")) for name, spec in models.items() if isinstance(spec, Mapping)}
