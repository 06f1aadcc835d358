"""The study grid: one fine-tuning run per model x objective x remedy x data size x seed."""

from __future__ import annotations

import itertools
from typing import Any

from fairforget.data.sizes import size_label
from fairforget.errors import ConfigError
from fairforget.paths import Run


def run_grid(config: dict[str, Any]) -> list[Run]:
    """Every fine-tuning run the config asks for, in a stable order."""
    models = list(config["models"])
    objectives = list(config["objectives"])
    remedies = list(config["remedies"])
    sizes = [size_label(s) for s in config["data_sizes"]]
    if len(set(sizes)) < len(sizes):
        raise ConfigError(f"config key 'data_sizes': {config['data_sizes']} names a size twice ('100%' is 'full')")
    seeds = list(config["seeds"])
    for key, values in (
        ("models", models),
        ("objectives", objectives),
        ("remedies", remedies),
        ("data_sizes", sizes),
        ("seeds", seeds),
    ):
        if not values:
            raise ConfigError(f"config key '{key}': the grid is empty; list at least one entry")
    # An objective may restrict itself to some models with `models: [...]` (e.g. DPO only for causal LMs).
    runs = []
    for model, objective, remedy, size, seed in itertools.product(models, objectives, remedies, sizes, seeds):
        allowed = config["objectives"][objective].get("models")
        if allowed is not None and model not in allowed:
            continue
        runs.append(Run(model, objective, remedy, size, int(seed)))
    return runs


def run_training_config(config: dict[str, Any], model: str, objective: str, remedy: str) -> dict[str, Any]:
    """The `training:` settings of one run: the study's `training:`, then the keys set by
    `models.<model>.training`, `objectives.<objective>.training` and `remedies.<remedy>.training`, later ones
    winning (e.g. a block length per model, `packing: false` for an objective that trains on sentence pairs)."""
    merged = dict(config["training"])
    for section, name in (("models", model), ("objectives", objective), ("remedies", remedy)):
        merged.update(config[section][name].get("training") or {})
    return merged
