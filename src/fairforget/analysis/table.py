"""The tidy table: one row per fine-tuning run with every forgetting, bias and downstream number as a column."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from statistics import fmean
from typing import Any

import polars as pl
from tqdm import tqdm

from fairforget.analysis import trajectory
from fairforget.analysis.dictionary import data_dictionary
from fairforget.analysis.results import classify, load_result, manifest_for, run_id
from fairforget.analysis.settings import AnalysisSettings
from fairforget.data.sizes import size_rank
from fairforget.errors import DataError
from fairforget.io import atomic_write_text, read_json
from fairforget.paths import RUN_FIELDS, Run
from fairforget.provenance.lineage import sidecar_for
from fairforget.provenance.record import build_record, finish

log = logging.getLogger(__name__)

# Left out of the downstream mean (and reported on its own): the GLUE baselines leave WNLI out because its dev set
# is adversarial to train-set memorisation and every model of the GLUE paper scores at or below the majority class
# (Wang et al. 2019, sec. 4; Devlin et al. 2019, footnote on WNLI).
EXCLUDED_FROM_MEAN = ("wnli",)
# train_summary.json key of the number of debiasing texts a run trained on
N_DEBIAS_TEXTS_KEY = "n_train_examples_source"
N_DEBIAS_TEXTS = "training.n_debias_texts"
IDENTITY_COLUMNS = ["run_id", "model", "objective", "remedy", "size", "size_n", "seed", "checkpoint_hash", "base_hash"]
RunKey = tuple[str, str, str, str, int]


@dataclass
class RunTable:
    frame: pl.DataFrame
    notes: list[str] = field(default_factory=list)


def _classified(paths: Iterable[str | Path], allowed: Sequence[str]) -> list[tuple[Path, Any]]:
    out = []
    for path in paths:
        info = classify(path)
        if info is None or info.kind not in allowed:
            raise DataError(f"{path}: not a {' or '.join(allowed)} path of the layout in docs/ARCHITECTURE.md")
        out.append((Path(path), info))
    return out


def _metric_columns(metrics: dict[str, dict[str, Any]]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for name, entry in metrics.items():
        row[name] = entry.get("value")
        for key in ("ci_low", "ci_high", "n"):
            if key in entry:
                row[f"{name}.{key}"] = entry[key]
    return row


def _primary_metrics(meta_paths: Iterable[str | Path], settings: AnalysisSettings) -> dict[str, str]:
    primary: dict[str, str] = {}
    for path, info in _classified(meta_paths, ["downstream_meta"]):
        meta = read_json(path)
        if "metric" not in meta:
            raise DataError(f"{path}: missing key 'metric'")
        primary[info.fields["task"]] = str(meta["metric"])
    primary.update(settings.primary_metrics)
    return primary


def _check_manifest(result_path: Path, result: dict[str, Any], manifest_path: Path) -> None:
    """A result must belong to the checkpoint that is on disk now; otherwise it is stale."""
    manifest = read_json(manifest_path)
    recorded = result.get("checkpoint_hash")
    if recorded != manifest.get("content_hash"):
        raise DataError(
            f"{result_path}: checkpoint_hash {recorded} does not match {manifest_path} content_hash "
            f"{manifest.get('content_hash')}; the result is stale, re-run its evaluation"
        )


def build_run_table(
    eval_paths: Iterable[str | Path],
    downstream_paths: Iterable[str | Path] = (),
    trajectory_paths: Iterable[str | Path] = (),
    meta_paths: Iterable[str | Path] = (),
    settings: AnalysisSettings | None = None,
    check_manifests: bool = True,
    summary_paths: Iterable[str | Path] = (),
) -> RunTable:
    """Join evaluation, downstream and trajectory results (and the training summaries' data sizes) into one row
    per fine-tuning run.

    `check_manifests`: compare each fine-tuned result's checkpoint_hash with the run's manifest on disk.
    """
    settings = settings or AnalysisSettings()
    notes: list[str] = []
    runs, base_metrics, base_source = _evaluation_rows(eval_paths, check_manifests)
    _add_base(runs, base_metrics, base_source, notes)
    _add_downstream(runs, downstream_paths, _primary_metrics(meta_paths, settings), settings.primary_metrics, notes)
    _add_training(runs, trajectory_paths, summary_paths)
    frame = pl.DataFrame(list(runs.values()), infer_schema_length=None)
    metric_columns = sorted(c for c in frame.columns if c not in IDENTITY_COLUMNS)
    # Sizes in numeric order (integers, then percentages of the corpus), `full` last.
    ranks = [size_rank(str(size)) for size in frame["size"]]
    frame = (
        frame.select(IDENTITY_COLUMNS + metric_columns)
        .with_columns(pl.Series("_kind", [r[0] for r in ranks]), pl.Series("_amount", [r[1] for r in ranks]))
        .sort(["model", "objective", "remedy", "_kind", "_amount", "seed"])
        .drop("_kind", "_amount")
    )
    return RunTable(frame=frame, notes=sorted(set(notes)))


def _evaluation_rows(
    eval_paths: Iterable[str | Path], check_manifests: bool
) -> tuple[dict[RunKey, dict[str, Any]], dict[str, dict[str, Any]], dict[str, tuple[Path, str | None]]]:
    """One row per fine-tuned run from its metrics.json; the base models' metrics and where they came from."""
    base_metrics: dict[str, dict[str, Any]] = {}
    base_source: dict[str, tuple[Path, str | None]] = {}  # model -> (base metrics.json, its checkpoint_hash)
    runs: dict[RunKey, dict[str, Any]] = {}
    for path, info in tqdm(
        _classified(eval_paths, ["eval_finetuned", "eval_base"]), desc="evaluation results", disable=None
    ):
        result = load_result(path)
        if info.kind == "eval_base":
            base_metrics[info.fields["model"]] = _metric_columns(result["metrics"])
            base_source[info.fields["model"]] = (path, result.get("checkpoint_hash"))
            continue
        key = info.run_key
        if key is None:
            raise DataError(f"{path}: no run in the path")
        declared = result.get("run")
        if declared is not None and tuple(str(declared.get(k)) for k in RUN_FIELDS) != tuple(str(v) for v in key):
            raise DataError(f"{path}: 'run' field {declared} does not match the path")
        manifest = manifest_for(info)
        if check_manifests and manifest.is_file():
            _check_manifest(path, result, manifest)
        model, objective, remedy, size, seed = key
        runs[key] = {
            "run_id": run_id(info.run_path or ""),
            "model": model,
            "objective": objective,
            "remedy": remedy,
            "size": size,
            "size_n": Run(model, objective, remedy, size, 0).size_limit,
            "seed": seed,
            "checkpoint_hash": result.get("checkpoint_hash"),
            "base_hash": result.get("base_hash"),
            **_metric_columns(result["metrics"]),
        }
    if not runs:
        raise DataError("no fine-tuned evaluation results (eval/finetuned/RUN/metrics.json) among the inputs")
    return runs, base_metrics, base_source


def _add_base(
    runs: dict[RunKey, dict[str, Any]],
    base_metrics: dict[str, dict[str, Any]],
    base_source: dict[str, tuple[Path, str | None]],
    notes: list[str],
) -> None:
    """Bias (and any other metric the base was scored on): base value and change."""
    for key, row in runs.items():
        base = base_metrics.get(key[0])
        if base is None:
            notes.append(f"no base evaluation for model {key[0]}: no `.base`/`.change` columns for its runs")
            continue
        base_path, base_hash = base_source[key[0]]
        if row["base_hash"] is not None and base_hash is not None and row["base_hash"] != base_hash:
            raise DataError(
                f"{base_path}: scores base checkpoint {base_hash[:12]} but run {row['run_id']} started from "
                f"{row['base_hash'][:12]}; the base evaluation is stale, re-run evaluate_base"
            )
        for name, value in base.items():
            if name.endswith((".ci_low", ".ci_high", ".n")) or name not in row:
                continue
            row[f"{name}.base"] = value
            row[f"{name}.change"] = None if value is None or row[name] is None else row[name] - value


def _add_training(
    runs: dict[RunKey, dict[str, Any]], trajectory_paths: Iterable[str | Path], summary_paths: Iterable[str | Path]
) -> None:
    """The trajectory summaries and each run's number of debiasing texts (its training summary)."""
    for path, info in tqdm(_classified(trajectory_paths, ["trajectory"]), desc="trajectories", disable=None):
        key = info.run_key
        if key not in runs:
            raise DataError(f"{path}: trajectory of a run with no evaluation result")
        runs[key].update(trajectory.summary(trajectory.read_trajectory(path)))
    for path, info in _classified(summary_paths, ["train_summary"]):
        if info.run_key not in runs:
            raise DataError(f"{path}: training summary of a run with no evaluation result")
        record = read_json(path)
        count = record.get(N_DEBIAS_TEXTS_KEY) if isinstance(record, dict) else None
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise DataError(f"{path}: '{N_DEBIAS_TEXTS_KEY}' must be a positive integer, got {count!r}")
        runs[info.run_key][N_DEBIAS_TEXTS] = count


def _check_downstream_hash(path: Path, info: Any, result: dict[str, Any], runs: dict[RunKey, dict[str, Any]]) -> None:
    """A downstream result must score the checkpoint (or base) that the run's evaluation scored."""
    recorded = result.get("checkpoint_hash")
    if recorded is None:
        return
    if info.kind == "downstream_finetuned":
        expected = {runs[info.run_key]["checkpoint_hash"]} if info.run_key in runs else set()
    else:
        expected = {row["base_hash"] for key, row in runs.items() if key[0] == info.fields["model"]}
    expected.discard(None)
    if expected and recorded not in expected:
        raise DataError(
            f"{path}: scores checkpoint {recorded[:12]}, but the evaluation results use "
            f"{', '.join(sorted(h[:12] for h in expected))}; the downstream result is stale"
        )


def _add_downstream(
    runs: dict[RunKey, dict[str, Any]],
    paths: Iterable[str | Path],
    primary: dict[str, str],
    configured_primary: dict[str, str],
    notes: list[str],
) -> None:
    """Downstream columns; primary metric per task: configured > result's `primary_metric` > meta.json."""
    # (model or run key, task, metric) -> values over downstream seeds
    tuned: dict[tuple[RunKey, str, str], list[float]] = defaultdict(list)
    base: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    tasks: set[str] = set()
    declared_primary: dict[str, str] = {}
    for path, info in tqdm(
        _classified(paths, ["downstream_finetuned", "downstream_base"]), desc="downstream results", disable=None
    ):
        result = load_result(path)
        task = info.fields["task"]
        tasks.add(task)
        prefix = f"downstream.{task}."
        declared = result.get("primary_metric")
        if isinstance(declared, str) and declared.startswith(prefix):
            declared_primary.setdefault(task, declared[len(prefix) :])
        _check_downstream_hash(path, info, result, runs)
        for name, entry in result["metrics"].items():
            if not name.startswith(prefix) or entry["value"] is None:
                continue
            metric = name[len(prefix) :]
            if info.kind == "downstream_base":
                base[(info.fields["model"], task, metric)].append(float(entry["value"]))
            else:
                if info.run_key not in runs:
                    raise DataError(f"{path}: downstream result of a run with no evaluation result")
                tuned[(info.run_key, task, metric)].append(float(entry["value"]))
    for task, metric in declared_primary.items():
        if task not in configured_primary:
            primary[task] = metric
    for task, metric in sorted(configured_primary.items()):
        # A configured metric is used or refused, never silently replaced by another one.
        found = sorted({m for (_, t, m) in tuned if t == task})
        if metric not in found:
            have = f"the results of task {task} have {', '.join(found)}" if found else f"no results for task {task}"
            raise DataError(f"config key 'analysis.primary_metrics.{task}': metric '{metric}' not found ({have})")
    for task in sorted(tasks):
        if task not in primary:
            metrics = sorted({m for (_, t, m) in tuned if t == task})
            if metrics:
                primary[task] = metrics[0]
                notes.append(f"task {task}: no meta.json metric given; primary metric taken as `{metrics[0]}`")
    for (key, task, metric), values in tuned.items():
        row = runs[key]
        column = f"downstream.{task}.{metric}"
        row[column] = fmean(values)
        row[f"downstream.{task}.n_seeds"] = len(values)
        base_values = base.get((key[0], task, metric))
        if base_values:
            row[f"{column}.base"] = fmean(base_values)
            row[f"{column}.change"] = row[column] - row[f"{column}.base"]
    _add_downstream_means(runs, tasks, primary, notes)


def _add_downstream_means(
    runs: dict[RunKey, dict[str, Any]], tasks: set[str], primary: dict[str, str], notes: list[str]
) -> None:
    """downstream.mean_change / mean / mean_base over the tasks (WNLI left out), and the notes that say so."""
    averaged = sorted(t for t in tasks if t not in EXCLUDED_FROM_MEAN)
    for row in runs.values():
        changes, absolute, base_abs = [], [], []
        for task in averaged:
            column = f"downstream.{task}.{primary.get(task)}"
            if f"{column}.change" in row:
                changes.append(row[f"{column}.change"])
                absolute.append(row[column])
                base_abs.append(row[f"{column}.base"])
        # Only defined when every task has a change, so that runs are averaged over the same tasks.
        complete = bool(averaged) and len(changes) == len(averaged)
        row["downstream.mean_change"] = fmean(changes) if complete else None
        row["downstream.mean"] = fmean(absolute) if complete else None
        row["downstream.mean_base"] = fmean(base_abs) if complete else None
    if tasks:
        notes.append(
            "primary metric per task: "
            + ", ".join(f"{t}={primary.get(t)}" for t in sorted(tasks))
            + "; downstream.mean_change is null for a run missing any task"
        )
    left_out = sorted(set(tasks) & set(EXCLUDED_FROM_MEAN))
    if left_out:
        notes.append(
            f"left out of downstream.mean*: {', '.join(left_out)} (as in the GLUE baselines); see "
            "their own downstream.<task>.* columns"
        )


def write_run_table(table: RunTable, parquet: str | Path, csv: str | Path, dictionary: str | Path) -> None:
    Path(parquet).parent.mkdir(parents=True, exist_ok=True)
    table.frame.write_parquet(parquet)
    table.frame.write_csv(csv)
    atomic_write_text(dictionary, data_dictionary(table.frame, table.notes))
    log.info("wrote %d runs x %d columns to %s", table.frame.height, table.frame.width, parquet)


def read_run_table(path: str | Path) -> pl.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    frame = pl.read_parquet(path)
    missing = [c for c in IDENTITY_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}")
    return frame


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
    record = build_record("aggregate_table", inputs, config, repo_root, code_root)
    table = build_run_table(
        eval_paths, downstream_paths, trajectory_paths, meta_paths, settings, summary_paths=summary_paths
    )
    write_run_table(table, parquet, csv, dictionary)
    finish(record, [parquet, csv, dictionary], sidecar_for(parquet))
    return table.frame.height
