"""Checks of the config that a JSON schema cannot express; run when the Snakefile is parsed, before any job."""

from __future__ import annotations

from typing import Any

from fairforget.config.grid import run_grid, run_training_config
from fairforget.errors import ConfigError


def _check_plugin_types(config: dict[str, Any], section: str, registry: Any) -> None:
    for name, entry in config[section].items():
        plugin = registry.get(entry["type"], key=f"{section}.{name}.type")
        # Constructing the plug-in validates its params (cheap: no model is touched).
        plugin(config_key=f"{section}.{name}", **(entry.get("params") or {}))
        for model in entry.get("models", []):
            if model not in config["models"]:
                raise ConfigError(
                    f"config key '{section}.{name}.models': unknown model '{model}'; "
                    f"allowed: {', '.join(sorted(config['models']))}"
                )


def _check_models(config: dict[str, Any]) -> None:
    from fairforget.base_models.source import MODEL_SOURCES

    for name, model in config["models"].items():
        source = MODEL_SOURCES.get(model["source"], key=f"models.{name}.source")
        for key in source.required_keys:
            if key not in model:
                raise ConfigError(f"config key 'models.{name}.{key}' is required when source is '{model['source']}'")


def check_environment(config: dict[str, Any]) -> None:
    """What each model's source and the debiasing corpus need from this environment (an installed weights
    package, a file, a cached dataset): checked at every parse, unlike `check_config`, whose result the parse
    cache keeps. A source registered by a plug-in
    that is not loaded yet is skipped here (the cached `check_config` loaded and checked it)."""
    from fairforget.base_models.source import MODEL_SOURCES
    from fairforget.data.corpus import check_available, parse_corpus, parse_replay_corpus
    from fairforget.data.hub_benchmarks import configured_specs

    for name, model in config["models"].items():
        if model["source"] in MODEL_SOURCES:
            MODEL_SOURCES.get(model["source"]).check_environment(name, model)
    # a corpus or benchmark missing from the datasets cache stops here, before any job, with the command that fetches it
    check_available(
        parse_corpus(config["data"]["debias"])
        + parse_replay_corpus(config["data"]["general"])
        + configured_specs(config["data"])
    )


def _check_tasks(config: dict[str, Any]) -> None:
    from fairforget.data.glue import TASKS

    for task in config["data"]["downstream"]["tasks"]:
        if task not in TASKS:
            raise ConfigError(
                f"config key 'data.downstream.tasks': unknown task '{task}'; allowed: {', '.join(sorted(TASKS))}"
            )


def _check_metrics(config: dict[str, Any]) -> None:
    from fairforget.metrics.base import METRICS

    for name in config["evaluation"].get("metrics", []):
        METRICS.get(name, key="evaluation.metrics")


def _check_packing(config: dict[str, Any], objectives: Any) -> None:
    """`training.packing` only for objectives that train on plain text (the engine refuses the others too, but
    only once the job runs)."""
    for run in run_grid(config):
        if not run_training_config(config, run.model, run.objective, run.remedy).get("packing"):
            continue
        entry = config["objectives"][run.objective]
        if not objectives.get(entry["type"]).packable:
            raise ConfigError(
                f"config key 'training.packing' (model {run.model}): objective '{run.objective}' "
                f"(type {entry['type']}) cannot train on packed blocks (it trains on sentence pairs or on more than "
                "the plain LM loss: Objective.packable is false); "
                f"set objectives.{run.objective}.training: {{packing: false}}"
            )


def check_config(config: dict[str, Any]) -> None:
    """Raise ConfigError naming the key and the allowed values for any semantic error."""
    from fairforget.training.plugins import OBJECTIVES, REMEDIES

    _check_models(config)
    check_environment(config)
    _check_plugin_types(config, "objectives", OBJECTIVES)
    _check_plugin_types(config, "remedies", REMEDIES)
    _check_packing(config, OBJECTIVES)
    _check_tasks(config)
    _check_metrics(config)
    if not run_grid(config):
        raise ConfigError("config keys 'models'/'objectives': no run is left after applying 'objectives.*.models'")
