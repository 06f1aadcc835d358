"""Building the typed jobs of stages 2 and 3 (`training.job`) from the validated config, a run and the
results dir: the one place the rules get them from (rules/inputs/finetune.smk, rules/inputs/base_models.smk).

Kept out of `training` because it reads the model sources (`base_models`), whose toy source trains with
`training`: the import graph stays acyclic. Imported when the Snakefile is parsed: no heavy imports here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fairforget import paths
from fairforget.base_models.source import MODEL_SOURCES
from fairforget.config.grid import run_training_config
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
