"""Building the typed jobs of every model stage from the validated config, a run and the results dir: base
models and fine-tuning (`training.job`), evaluation (`evaluation.job`), downstream (`downstream.job`) and fusion
(`fusion.job`). The one place the rules get them from (rules/inputs/<stage>.smk); every path from a `paths` (or
`fusion.settings`) template, every default from config/schema.yaml.

Kept out of `training` because it reads the model sources (`base_models`), whose toy source trains with
`training`: the import graph stays acyclic. Imported when the Snakefile is parsed: no heavy imports here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fairforget import paths
from fairforget.base_models.source import MODEL_SOURCES
from fairforget.config.grid import run_training_config
from fairforget.downstream.job import DownstreamJob
from fairforget.evaluation.job import EvaluationJob
from fairforget.fusion import settings as fusion
from fairforget.fusion.job import FuseJob
from fairforget.paths import Run
from fairforget.training.job import BaseModelJob, FinetuneJob, ProbeSettings, finetune_data_files


def probe_pair_set(config: Mapping[str, Any], model: str) -> str:
    """The stereotype pairs the training probe of `model` scores: its source's (`ModelSource.probe_pair_set`)."""
    return MODEL_SOURCES.get(config["models"][model]["source"]).probe_pair_set


def finetune_inputs(config: Mapping[str, Any], model: str, results_dir: str) -> dict[str, str]:
    """The files a fine-tuning run of `model` reads, by role (the base model's folder and sidecar included)."""
    return {
        "base_sidecar": paths.under(results_dir, paths.BASE_SIDECAR, model=model),
        "base_model": paths.under(results_dir, paths.BASE_MODEL, model=model),
        **finetune_data_files(results_dir),
        "probe_general": paths.under(results_dir, paths.GENERAL_HELDOUT),
        "probe_pairs": paths.under(results_dir, paths.PROBES, name=probe_pair_set(config, model)),
    }


def finetune_job(
    config: Mapping[str, Any],
    run: Run,
    results_dir: str,
    *,
    repo_root: str = ".",
    code: Mapping[str, Any] | None = None,
) -> FinetuneJob:
    """The job of `run` from the validated config (schema defaults set) and the results dir."""
    training = run_training_config(dict(config), run.model, run.objective, run.remedy)
    evaluation = config["evaluation"]
    inputs = finetune_inputs(config, run.model, results_dir)
    fields = run.wildcards()
    return FinetuneJob(
        run=run,
        base_dir=inputs["base_model"],
        data={role: inputs[role] for role in paths.FINETUNE_DATA},
        objective=dict(config["objectives"][run.objective]),
        remedy=dict(config["remedies"][run.remedy]),
        training=training,
        probe=ProbeSettings(
            max_examples=int(training["probe_max_examples"]),
            batch_size=int(evaluation["batch_size"]),
            max_length=int(evaluation["max_length"]),
            general=inputs["probe_general"],
            pairs=inputs["probe_pairs"],
            pair_set=probe_pair_set(config, run.model),
            causal_pair_score=str(evaluation["causal_pair_score"]),
        ),
        out_dir=paths.under(results_dir, paths.FINETUNED_MODEL, **fields),
        sidecar=paths.under(results_dir, paths.FINETUNED_SIDECAR, **fields),
        state_dir=paths.under(results_dir, paths.TRAINING_STATE, **fields),
        trajectory=paths.under(results_dir, paths.TRAJECTORY, **fields),
        summary=paths.under(results_dir, paths.TRAIN_SUMMARY, **fields),
        log=paths.log_file(results_dir, "finetune", run.path),
        plugins=list(config["plugins"]),
        repo_root=repo_root,
        code=None if code is None else dict(code),
    )


def base_model_job(
    config: Mapping[str, Any], model: str, results_dir: str, *, code: Mapping[str, Any] | None = None
) -> BaseModelJob:
    """The job of base model `model` from the validated config and the results dir."""
    return BaseModelJob(
        model=model,
        model_cfg=dict(config["models"][model]),
        texts=base_model_inputs(config, model, results_dir),
        out_dir=paths.under(results_dir, paths.BASE_MODEL, model=model),
        sidecar=paths.under(results_dir, paths.BASE_SIDECAR, model=model),
        code=None if code is None else dict(code),
    )


def base_model_inputs(config: Mapping[str, Any], model: str, results_dir: str) -> list[str]:
    """The pretraining texts of `model`: general text then the planted corpus for sources that train on the
    workflow's own text (toy), none for hub and local models."""
    if not MODEL_SOURCES.get(config["models"][model]["source"]).uses_pretraining_text:
        return []
    return [paths.under(results_dir, template) for template in paths.PRETRAIN_DATA]


@dataclass(frozen=True)
class _Checkpoint:
    """Where a checkpoint's files are (`model_dir`, `sidecar`, `scores_dir`, `metrics_json`), its downstream
    results' template and that template's fields, and `record`, the identity its results record (None for a
    base model)."""

    model_dir: str
    sidecar: str
    scores_dir: str
    metrics_json: str
    downstream: str
    fields: dict[str, Any]
    record: dict[str, Any] | None


def _checkpoint(results_dir: str, model: str, run: Run | None, alpha: str | None) -> _Checkpoint:
    """The checkpoint of a base model (no run), of a run, or the run's fused checkpoint at weight `alpha` (as
    it appears in paths)."""
    if run is None:
        names = (paths.BASE_MODEL, paths.BASE_SIDECAR, paths.EVAL_BASE_SCORES, paths.EVAL_BASE, paths.DOWNSTREAM_BASE)
        fields: dict[str, Any] = {"model": model}
        record = None
    elif alpha is None:
        names = (
            paths.FINETUNED_MODEL,
            paths.FINETUNED_SIDECAR,
            paths.EVAL_FINETUNED_SCORES,
            paths.EVAL_FINETUNED,
            paths.DOWNSTREAM_FINETUNED,
        )
        fields, record = run.wildcards(), run.wildcards()
    else:
        names = (
            fusion.FUSED_MODEL,
            fusion.FUSED_SIDECAR,
            fusion.EVAL_FUSED_SCORES,
            fusion.EVAL_FUSED,
            fusion.DOWNSTREAM_FUSED,
        )
        fields, record = {**run.wildcards(), "alpha": alpha}, {**run.wildcards(), "alpha": float(alpha)}
    model_dir, sidecar, scores_dir, metrics_json = (paths.under(results_dir, name, **fields) for name in names[:4])
    return _Checkpoint(model_dir, sidecar, scores_dir, metrics_json, names[4], fields, record)


def evaluation_job(
    config: Mapping[str, Any],
    results_dir: str,
    *,
    model: str,
    inputs: Mapping[str, Any],
    run: Run | None = None,
    alpha: str | None = None,
    evaluation: Mapping[str, Any] | None = None,
    code: Mapping[str, Any] | None = None,
) -> EvaluationJob:
    """The evaluation of base model `model` (no run), of a run's checkpoint, or of its fused checkpoint at
    `alpha`. `inputs`: `metrics.inputs.evaluation_inputs` for this config (parse-cached by the rules, as it
    imports torch); `evaluation`: the `evaluation:` section it runs, when not the config's (a fused checkpoint's
    has no trajectory metrics)."""
    where = _checkpoint(results_dir, model, run, alpha)
    base = None if run is None else _checkpoint(results_dir, model, None, None)
    trajectory = None
    if run is not None and alpha is None and inputs["needs_trajectory"]:
        trajectory = paths.under(results_dir, paths.TRAJECTORY, **run.wildcards())
    return EvaluationJob(
        model_dir=where.model_dir,
        sidecar=where.sidecar,
        base_model_dir=None if base is None else base.model_dir,
        base_sidecar=None if base is None else base.sidecar,
        base_scores_dir=None if base is None else base.scores_dir,
        trajectory=trajectory,
        heldout=inputs["heldout"],
        probes=dict(inputs["probes"]),
        seat_dir=inputs["seat_dir"],
        scores_dir=where.scores_dir,
        metrics_json=where.metrics_json,
        evaluation=dict(config["evaluation"] if evaluation is None else evaluation),
        store_dir=str(config["store_dir"]),
        run=where.record,
        code=None if code is None else dict(code),
    )


def downstream_job(
    config: Mapping[str, Any],
    results_dir: str,
    *,
    model: str,
    tasks: list[str],
    run: Run | None = None,
    alpha: str | None = None,
    code: Mapping[str, Any] | None = None,
) -> DownstreamJob:
    """The downstream tasks `tasks` (every task of the study, or one on GPU studies) of base model `model` (no
    run), of a run's checkpoint, or of its fused checkpoint at `alpha`, on every downstream seed."""
    where = _checkpoint(results_dir, model, run, alpha)
    dseeds = [int(seed) for seed in config["downstream"]["seeds"]]
    return DownstreamJob(
        model=model,
        model_dir=where.model_dir,
        sidecar=where.sidecar,
        base_sidecar=None if run is None else paths.under(results_dir, paths.BASE_SIDECAR, model=model),
        tasks=list(tasks),
        task_dirs=[str(Path(paths.under(results_dir, paths.DOWNSTREAM_META, task=task)).parent) for task in tasks],
        dseeds=dseeds,
        outputs=[
            paths.under(results_dir, where.downstream, **where.fields, task=task, dseed=dseed)
            for task in tasks
            for dseed in dseeds
        ],
        downstream=dict(config["downstream"]),
        mode_override=config["models"][model].get("downstream_mode"),
        store_dir=str(config["store_dir"]),
        run=where.record,
        code=None if code is None else dict(code),
    )


def fuse_job(run: Run, alpha: str, results_dir: str, *, code: Mapping[str, Any] | None = None) -> FuseJob:
    """The fused checkpoint of `run` at weight `alpha` (as it appears in paths, `fusion.settings.alpha_label`)."""
    base = _checkpoint(results_dir, run.model, None, None)
    debiased = _checkpoint(results_dir, run.model, run, None)
    fused = _checkpoint(results_dir, run.model, run, alpha)
    assert fused.record is not None  # a fused checkpoint records its run and weight
    return FuseJob(
        base_dir=base.model_dir,
        base_sidecar=base.sidecar,
        debiased_dir=debiased.model_dir,
        debiased_sidecar=debiased.sidecar,
        alpha=float(alpha),
        out_dir=fused.model_dir,
        sidecar=fused.sidecar,
        run=fused.record,
        code=None if code is None else dict(code),
    )
