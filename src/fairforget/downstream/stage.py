"""Stage 5: one checkpoint x one GLUE task x one downstream seed -> a result JSON (docs/ARCHITECTURE.md).

Results go through the content-addressed store, keyed on (checkpoint hash, "downstream/<task>", protocol
settings + sha256 of the task files, seed); zero-shot and linear-probe scores do not depend on the seed, so their
key has none and every downstream seed after the first is a cache hit.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from fairforget.code_identity import fingerprint_of
from fairforget.downstream.job import DownstreamJob
from fairforget.downstream.settings import DownstreamSettings, parse_settings
from fairforget.downstream.tasks import TaskData, load_task
from fairforget.errors import ConfigError, ModelError, StoreError
from fairforget.io import read_json, write_json
from fairforget.metrics.bootstrap import BootstrapSettings
from fairforget.metrics.glue import metric_intervals
from fairforget.models.modeldir import MANIFEST, read_sidecar
from fairforget.store import ResultStore

log = logging.getLogger(__name__)

#: Bump when the protocol's code changes what a score means (it is part of the store key).
PROTOCOL_VERSION = 1
#: Modes with nothing random in them: their store key has no seed, so every downstream seed after the first is a
#: cache hit.
SEEDLESS_MODES = ("zeroshot", "linear_probe")


def _finite_or_none(value: float) -> float | None:
    return None if math.isnan(value) or math.isinf(value) else float(value)


def _point_metrics(task: str, metrics: dict[str, float], n: int) -> dict[str, dict[str, Any]]:
    return {f"downstream.{task}.{name}": {"value": _finite_or_none(value), "n": n} for name, value in metrics.items()}


def metric_entries(task: TaskData, details: dict[str, Any], settings: DownstreamSettings) -> dict[str, dict[str, Any]]:
    """Dev metrics with percentile-bootstrap intervals, from the predictions kept in the store entry."""
    if details["dev_ids"] != [example.id for example in task.dev]:
        raise StoreError(f"store entry for task '{task.name}' holds predictions for other dev examples")
    labels = [example.label for example in task.dev]
    bootstrap = BootstrapSettings(samples=settings.bootstrap_samples, seed=settings.bootstrap_seed)
    values = metric_intervals(task.metric_names, details["dev_predictions"], labels, bootstrap)
    if "dev_predictions_norm" in details:
        values["accuracy_norm"] = metric_intervals(("accuracy",), details["dev_predictions_norm"], labels, bootstrap)[
            "accuracy"
        ]
    return {f"downstream.{task.name}.{name}": value.to_json() for name, value in values.items()}


def store_settings(mode: str, settings: DownstreamSettings, task: TaskData) -> dict[str, Any]:
    """Everything besides checkpoint and seed that determines the scores."""
    if mode in SEEDLESS_MODES:
        protocol = settings.zeroshot_settings() if mode == "zeroshot" else settings.linear_probe_settings()
    else:
        protocol = settings.training_settings()
    if mode != "lora":
        protocol.pop("lora", None)
    return {"protocol_version": PROTOCOL_VERSION, "mode": mode, "protocol": protocol, "task_files": task.file_hashes}


def compute_downstream(
    model_dir: str | Path, task: TaskData, mode: str, settings: DownstreamSettings, seed: int, progress: bool = True
) -> dict[str, Any]:
    """Run the protocol and return the JSON-able result stored in the result store."""
    n_dev = len(task.dev)
    ids = [example.id for example in task.dev]
    if mode == "zeroshot":
        from fairforget.downstream.zeroshot import zeroshot_evaluate

        outcome = zeroshot_evaluate(model_dir, task, settings, progress=progress)
        return {
            "metrics": _point_metrics(task.name, outcome.metrics, n_dev),
            "details": {
                "n_train": 0,
                "n_dev": n_dev,
                "dev_ids": ids,
                "dev_predictions": outcome.predictions,
                "dev_predictions_norm": outcome.predictions_norm,
                "dev_loglikelihoods": outcome.loglikelihoods.tolist(),
            },
        }
    if mode == "linear_probe":
        from fairforget.downstream.linear_probe import probe_and_evaluate

        probed = probe_and_evaluate(model_dir, task, settings)
        return {
            "metrics": _point_metrics(task.name, probed.metrics, n_dev),
            "details": {
                "n_train": len(task.train),
                "n_dev": n_dev,
                "probe_iterations": probed.iterations,
                "train_metrics": probed.train_metrics,
                "dev_ids": ids,
                "dev_predictions": probed.predictions,
            },
        }
    from fairforget.downstream.finetune import finetune_and_evaluate

    tuned = finetune_and_evaluate(model_dir, task, settings, seed, lora=mode == "lora", progress=progress)
    return {
        "metrics": _point_metrics(task.name, tuned.metrics, n_dev),
        "details": {
            "n_train": len(task.train),
            "n_dev": n_dev,
            "train_steps": tuned.train_steps,
            "final_train_loss": tuned.final_train_loss,
            "dev_ids": ids,
            "dev_predictions": tuned.predictions,
        },
    }


def _base_hash(manifest: dict[str, Any], checkpoint_hash: str, base_sidecar: str | Path | None, model_dir: Path) -> str:
    parent = manifest.get("parent_hash")
    if base_sidecar is None:
        return parent or checkpoint_hash  # a base model is its own base
    base = read_sidecar(base_sidecar)
    if parent is not None and parent != base:
        raise ModelError(
            f"{model_dir}/{MANIFEST}: parent_hash {parent[:12]}... is not the base model's hash "
            f"{base[:12]}... from {base_sidecar}; the checkpoint was not fine-tuned from this base"
        )
    return base


def evaluate_downstream(
    model_dir: str | Path,
    model_sidecar: str | Path,
    task_dir: str | Path,
    task: str,
    seed: int,
    cfg: dict[str, Any] | None,
    out_json: str | Path,
    store_dir: str | Path,
    *,
    mode_override: str | None = None,
    model_name: str | None = None,
    base_sidecar: str | Path | None = None,
    run: dict[str, Any] | None = None,
    progress: bool = True,
    code: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Score one checkpoint on one task with the configured protocol and write the result JSON.

    `cfg` is the `downstream:` config section; `mode_override` is `models.<model_name>.downstream_mode`.
    `base_sidecar` (fine-tuned checkpoints) gives the base model's hash; without it the manifest's
    parent_hash, or for a base model its own hash, is recorded as `base_hash`. `code`: the job's code identity
    (fairforget.workflow.code_params), part of the store key and recorded in the result.
    """
    settings = parse_settings(cfg)
    model_dir = Path(model_dir)
    checkpoint_hash = read_sidecar(model_sidecar)
    manifest_path = model_dir / MANIFEST
    if not manifest_path.is_file():
        raise ModelError(f"{model_dir}: no {MANIFEST}: the model directory is missing or partial")
    manifest = read_json(manifest_path)  # cheap; the full hash check runs when the model is loaded
    if manifest.get("content_hash") != checkpoint_hash:
        raise ModelError(f"{model_sidecar}: hash does not match {manifest_path}; the sidecar is stale")
    mode = settings.mode_for(manifest["kind"], mode_override, model_name)
    task_data = load_task(task_dir, task)
    if mode == "zeroshot":
        from fairforget.downstream.prompts import template_for

        template_for(task_data)  # fail on STS-B / unknown tasks before any model is loaded
    store = ResultStore(store_dir)
    described = store_settings(mode, settings, task_data)
    if code is not None:
        described["code"] = fingerprint_of(code)
    key = store.key(
        checkpoint_hash,
        f"downstream/{task}",
        described,
        seed=None if mode in SEEDLESS_MODES else int(seed),
    )
    result, hit = store.get_or_compute(
        key, lambda: compute_downstream(model_dir, task_data, mode, settings, int(seed), progress)
    )
    log.info(
        "downstream %s on %s (mode %s, seed %s): cache %s",
        checkpoint_hash[:12],
        task,
        mode,
        seed,
        "hit" if hit else "miss",
    )
    output = {
        "kind": "downstream",
        "checkpoint_hash": checkpoint_hash,
        "base_hash": _base_hash(manifest, checkpoint_hash, base_sidecar, model_dir),
        "run": run,
        "cache": {"hit": hit, "key": key},
        "code": dict(code) if code is not None else None,
        "task": task,
        "mode": mode,
        "dseed": int(seed),
        "primary_metric": f"downstream.{task}.{task_data.primary_metric}",
        "metrics": metric_entries(task_data, result["details"], settings),
        "details": result["details"],
    }
    write_json(out_json, output)
    return output


def evaluate_downstream_seeds(
    *,
    model_dir: str | Path,
    model_sidecar: str | Path,
    task_dir: str | Path,
    task: str,
    seeds: Sequence[int],
    out_jsons: Sequence[str | Path],
    cfg: dict[str, Any] | None,
    store_dir: str | Path,
    mode_override: str | None = None,
    model_name: str | None = None,
    base_sidecar: str | Path | None = None,
    run: dict[str, Any] | None = None,
    progress: bool = True,
    code: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Rules downstream_base / downstream_finetuned: `evaluate_downstream` once per downstream seed, each seed's
    result written to the output at the same position of `out_jsons`."""
    if len(out_jsons) != len(seeds):
        raise ConfigError(f"downstream task '{task}': {len(out_jsons)} outputs but {len(seeds)} downstream seeds")
    return [
        evaluate_downstream(
            model_dir,
            model_sidecar,
            task_dir,
            task,
            int(seed),
            cfg,
            out_json,
            store_dir,
            mode_override=mode_override,
            model_name=model_name,
            base_sidecar=base_sidecar,
            run=run,
            progress=progress,
            code=code,
        )
        for seed, out_json in zip(seeds, out_jsons)
    ]


def run_downstream_job(job: DownstreamJob, threads: int) -> None:
    """The downstream rules' entry point: every task of the job, each once per downstream seed, on `threads`."""
    import torch

    torch.set_num_threads(threads)
    for index, task in enumerate(job.tasks):
        evaluate_downstream_seeds(
            model_dir=job.model_dir,
            model_sidecar=job.sidecar,
            task_dir=job.task_dirs[index],
            task=task,
            seeds=job.dseeds,
            out_jsons=job.task_outputs(index),
            cfg=job.downstream,
            store_dir=job.store_dir,
            mode_override=job.mode_override,
            model_name=job.model,
            base_sidecar=job.base_sidecar,
            run=job.run,
            progress=False,
            code=job.code,
        )
