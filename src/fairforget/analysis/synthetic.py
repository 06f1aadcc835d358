"""A synthetic study on disk, in the exact file layout of the workflow, with known relations between metrics.

Used by the analysis tests and for trying the analysis without training anything:
selective forgetting s ~ U(0, 1) per (model, objective, size, seed), shared by the remedy arms (a remedy acts on
overall forgetting only); overall forgetting f = f_slope * s + objective offset + noise;
downstream change = downstream_slope * f + noise (per task, metric `accuracy`; `f1` is a constant distractor);
a remedy shifts f by `remedy_effect`; planted.stereo_preference = 90 - 30 s (base 90).
The files are real (safetensors weights, manifests with content hashes, Parquet trajectories), only the
numbers are simulated.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from fairforget.analysis.table import aggregate_table
from fairforget.data.texttable import write_text_table
from fairforget.hashing import sha256_file
from fairforget.io import atomic_write_text, write_json, write_jsonl
from fairforget.models.modeldir import write_manifest, write_sidecar

# Number of debiasing texts a `full` run trains on in the synthetic study.
SYNTHETIC_FULL_SIZE = 1000


@dataclass(frozen=True)
class SyntheticStudy:
    models: tuple[str, ...] = ("bert-tiny", "llama-tiny")
    objectives: tuple[str, ...] = ("none", "cda")
    remedies: tuple[str, ...] = ("none",)
    sizes: tuple[str, ...] = ("full",)
    seeds: tuple[int, ...] = (0,)
    tasks: tuple[str, ...] = ("sst2", "rte")
    downstream_seeds: tuple[int, ...] = (0,)
    f_slope: float = 0.8
    downstream_slope: float = -2.0
    remedy_effect: float = 0.0
    noise: float = 0.02
    seed: int = 0


@dataclass
class SyntheticPaths:
    repo: Path
    results: Path
    eval_paths: list[Path]
    downstream_paths: list[Path]
    trajectory_paths: list[Path]
    summary_paths: list[Path]
    meta_paths: list[Path]
    sidecar_paths: list[Path]
    truth: dict[str, dict[str, float]]  # run_id -> true simulated values

    def aggregate(self, config: dict[str, Any], summaries: bool = True) -> Path:
        """The study's tidy table, written as the aggregate_table rule does (results/tables/: runs.parquet,
        runs.csv, data_dictionary.md, sidecar); `summaries` False leaves out the training summaries."""
        tables = self.results / "tables"
        aggregate_table(
            self.eval_paths,
            self.downstream_paths,
            self.trajectory_paths,
            self.meta_paths,
            self.sidecar_paths,
            tables / "runs.parquet",
            tables / "runs.csv",
            tables / "data_dictionary.md",
            config,
            repo_root=self.repo,
            summary_paths=self.summary_paths if summaries else (),
        )
        return tables / "runs.parquet"


def _model_dir(
    path: Path,
    rng: np.random.Generator,
    kind: str,
    parent: str | None,
    run: dict | None,
    data_files: dict[str, str] | None = None,
) -> str:
    from safetensors.numpy import save_file

    path.mkdir(parents=True, exist_ok=True)
    save_file({"weight": rng.standard_normal((4, 4)).astype(np.float32)}, str(path / "model.safetensors"))
    write_json(path / "config.json", {"model_type": "synthetic", "hidden_size": 4})
    extra = {"data_files": data_files} if data_files is not None else None
    manifest = write_manifest(path, kind, parent_hash=parent, run=run, extra=extra)
    write_sidecar(path, path.parent / f"{path.name}.sha256")
    return manifest["content_hash"]


def _metric(value: float, n: int = 50, width: float = 0.05) -> dict[str, float | int]:
    return {"value": float(value), "ci_low": float(value - width), "ci_high": float(value + width), "n": n}


def write_synthetic_study(repo: str | Path, study: SyntheticStudy = SyntheticStudy()) -> SyntheticPaths:
    """Write raw data, prepared data, base and tuned model dirs and every result file under `repo`."""
    repo = Path(repo)
    results = repo / "results"
    rng = np.random.default_rng(study.seed)
    _write_data(repo, results)
    paths = SyntheticPaths(repo, results, [], [], [], [], [], [], {})
    base_hash = {model: _write_base(paths, study, rng, model) for model in study.models}
    for task in study.tasks:
        meta = results / "data/downstream" / task / "meta.json"
        write_json(
            meta,
            {
                "task": task,
                "metric": "accuracy",
                "num_labels": 2,
                "label_names": ["n", "p"],
                "is_regression": False,
                "n_train": 10,
                "n_dev": 10,
                "seed": 0,
            },
        )
        paths.meta_paths.append(meta)

    objective_offset = {name: 0.1 * i for i, name in enumerate(study.objectives)}
    selective: dict[tuple[str, str, str, int], float] = {}
    for model in study.models:
        for objective in study.objectives:
            for remedy in study.remedies:
                for size in study.sizes:
                    for seed in study.seeds:
                        cell = (model, objective, size, seed)
                        if cell not in selective:
                            selective[cell] = float(rng.uniform(0, 1))
                        _write_run(
                            paths,
                            study,
                            rng,
                            base_hash[model],
                            model,
                            objective,
                            remedy,
                            size,
                            seed,
                            objective_offset[objective],
                            selective[cell],
                        )
    return paths


def _write_data(repo: Path, results: Path) -> None:
    """The raw WikiText files (with their checksums) and the prepared data files a run's provenance names."""
    raw = repo / "resources" / "data" / "wikitext"
    raw.mkdir(parents=True, exist_ok=True)
    atomic_write_text(raw / "wiki.valid.txt", "the cat sat on the mat .\n" * 5)
    atomic_write_text(raw / "wiki.test.txt", "a dog ran in the park .\n" * 5)
    sums = "".join(f"{sha256_file(p)}  {p.relative_to(repo / 'resources').as_posix()}\n" for p in sorted(raw.iterdir()))
    atomic_write_text(repo / "resources" / "SHA256SUMS", sums)
    write_jsonl(results / "data/general/pretrain.jsonl", [{"id": f"g{i}", "text": f"text {i}"} for i in range(5)])
    write_text_table(
        results / "data/debias/source.arrow",
        [{"id": f"d{i}", "text": f"he {i}", "origin": "general"} for i in range(5)],
        ("id", "text", "origin"),
    )


def _write_base(paths: SyntheticPaths, study: SyntheticStudy, rng: np.random.Generator, model: str) -> str:
    """A base model dir, its evaluation and downstream results; its content hash."""
    results = paths.results
    kind = "masked" if "bert" in model else "causal"
    base_hash = _model_dir(results / "models/base" / model, rng, kind, None, None)
    paths.sidecar_paths.append(results / "models/base" / f"{model}.sha256")
    base_eval = results / "eval/base" / model / "metrics.json"
    write_json(
        base_eval,
        {
            "kind": "base_eval",
            "checkpoint_hash": base_hash,
            "base_hash": base_hash,
            "run": None,
            "cache": {"hit": False, "key": "k"},
            "metrics": {"planted.stereo_preference": _metric(90.0)},
        },
    )
    paths.eval_paths.append(base_eval)
    for task in study.tasks:
        for dseed in study.downstream_seeds:
            out = results / "downstream/base" / model / task / f"seed{dseed}.json"
            write_json(
                out,
                {
                    "kind": "downstream",
                    "checkpoint_hash": base_hash,
                    "base_hash": base_hash,
                    "run": None,
                    "cache": {"hit": False, "key": "k"},
                    "primary_metric": f"downstream.{task}.accuracy",
                    "metrics": {
                        f"downstream.{task}.accuracy": _metric(0.8, 200),
                        f"downstream.{task}.f1": _metric(0.7, 200),
                    },
                },
            )
            paths.downstream_paths.append(out)
    return base_hash


def _write_run(
    paths: SyntheticPaths,
    study: SyntheticStudy,
    rng: np.random.Generator,
    base_hash: str,
    model: str,
    objective: str,
    remedy: str,
    size: str,
    seed: int,
    offset: float,
    selective: float,
) -> None:
    results = paths.results
    run_path = f"{model}/{objective}/{remedy}/{size}/seed{seed}"
    run = {"model": model, "objective": objective, "remedy": remedy, "size": size, "seed": seed}
    kind = "masked" if "bert" in model else "causal"
    # Like fairforget.training.finetune: the data files and their hashes at training time, cwd-relative.
    source = results / "data/debias/source.arrow"
    data_files = {source.relative_to(paths.repo).as_posix(): sha256_file(source)}
    checkpoint = _model_dir(results / "models/finetuned" / run_path, rng, kind, base_hash, run, data_files)
    paths.sidecar_paths.append(results / "models/finetuned" / f"{run_path}.sha256")
    overall = study.f_slope * selective + offset + float(rng.normal(0, study.noise))
    if remedy != "none":
        overall += study.remedy_effect
    bias = 90.0 - 30.0 * selective  # percent of pairs preferring the stereotype; base 90
    eval_path = results / "eval/finetuned" / run_path / "metrics.json"
    write_json(
        eval_path,
        {
            "kind": "forgetting",
            "checkpoint_hash": checkpoint,
            "base_hash": base_hash,
            "run": run,
            "cache": {"hit": False, "key": "k"},
            "metrics": {
                "overall_forgetting.mean_loss_change": _metric(overall),
                "selective_forgetting.stereo_minus_anti_loss_change": _metric(selective),
                # A statistic the analysis must not mistake for selective forgetting (sorts first by name).
                "selective_forgetting.anti_base_mean_loss": _metric(3.0 + selective),
                "planted.stereo_preference": _metric(bias),
            },
        },
    )
    paths.eval_paths.append(eval_path)
    change = study.downstream_slope * overall
    for task in study.tasks:
        for dseed in study.downstream_seeds:
            out = results / "downstream/finetuned" / run_path / task / f"seed{dseed}.json"
            value = 0.8 + change + float(rng.normal(0, study.noise))
            write_json(
                out,
                {
                    "kind": "downstream",
                    "checkpoint_hash": checkpoint,
                    "base_hash": base_hash,
                    "run": run,
                    "cache": {"hit": False, "key": "k"},
                    "primary_metric": f"downstream.{task}.accuracy",
                    "metrics": {
                        f"downstream.{task}.accuracy": _metric(value, 200),
                        f"downstream.{task}.f1": _metric(0.5, 200),
                    },
                },
            )
            paths.downstream_paths.append(out)
    _write_training(paths, rng, run_path, run, checkpoint, base_hash, size, overall, selective)
    paths.truth[run_path.replace("/", "__")] = {"overall": overall, "selective": selective, "downstream_change": change}


def _write_training(
    paths: SyntheticPaths,
    rng: np.random.Generator,
    run_path: str,
    run: dict[str, Any],
    checkpoint: str,
    base_hash: str,
    size: str,
    overall: float,
    selective: float,
) -> None:
    """A run's training trajectory (probe answers falling with its forgetting) and training summary."""
    results = paths.results
    rows = []
    for step in (0, 10, 20):
        chance = (("general", 0.7 - 0.01 * step * overall), ("stereotype", 0.9 - 0.02 * step * selective))
        for probe_set, p_correct in chance:
            for item in range(20):
                rows.append(
                    {
                        "step": step,
                        "probe_set": probe_set,
                        "item_id": f"{probe_set}{item}",
                        "correct": bool(rng.uniform() < p_correct),
                    }
                )
    summary = results / "training" / run_path / "train_summary.json"
    write_json(
        summary,
        {
            "run": run,
            "checkpoint_hash": checkpoint,
            "base_hash": base_hash,
            "n_train_examples_source": SYNTHETIC_FULL_SIZE if size == "full" else int(size),
        },
    )
    paths.summary_paths.append(summary)
    trajectory = results / "training" / run_path / "trajectory.parquet"
    trajectory.parent.mkdir(parents=True, exist_ok=True)
    pl.DataFrame(rows).write_parquet(trajectory)
    paths.trajectory_paths.append(trajectory)
