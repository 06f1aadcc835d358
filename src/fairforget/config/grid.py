"""The study grid: one fine-tuning run per model x objective x remedy x data size x seed, or the subset of them
that `grid_subset` selects."""

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
    selectors = config.get("grid_subset")
    if selectors is None:
        return runs
    axes = {"model": models, "objective": objectives, "remedy": remedies, "data_size": sizes, "seed": seeds}
    wanted = [_selector(index, selector, axes) for index, selector in enumerate(selectors)]
    for index, selector in enumerate(wanted):
        if not any(_matches(run, selector) for run in runs):
            raise ConfigError(
                f"config key 'grid_subset[{index}]': {selectors[index]} matches no run of the grid "
                "(an objective's `models:` may leave that model out)"
            )
    return [run for run in runs if any(_matches(run, selector) for selector in wanted)]


# `grid_subset` selector key -> (the Run field it matches, the config key of its axis)
_SELECTOR_KEYS = {
    "model": ("model", "models"),
    "objective": ("objective", "objectives"),
    "remedy": ("remedy", "remedies"),
    "data_size": ("size", "data_sizes"),
    "seed": ("seed", "seeds"),
}


def _selector(index: int, selector: dict[str, Any], axes: dict[str, list[Any]]) -> dict[str, Any]:
    """One `grid_subset` entry as Run field -> value (data sizes as path labels), each value checked to be on
    its axis of the grid."""
    fields = {}
    for key, value in selector.items():
        if key not in _SELECTOR_KEYS:
            raise ConfigError(
                f"config key 'grid_subset[{index}].{key}': unknown key; allowed: {', '.join(_SELECTOR_KEYS)}"
            )
        field, axis = _SELECTOR_KEYS[key]
        if key == "data_size":
            value = size_label(value)
        if value not in axes[key]:
            raise ConfigError(
                f"config key 'grid_subset[{index}].{key}': {selector[key]!r} is not in '{axis}'; "
                f"allowed: {', '.join(str(v) for v in axes[key])}"
            )
        fields[field] = value
    return fields


def _matches(run: Run, selector: dict[str, Any]) -> bool:
    return all(getattr(run, field) == value for field, value in selector.items())


def run_training_config(config: dict[str, Any], model: str, objective: str, remedy: str) -> dict[str, Any]:
    """The `training:` settings of one run: the study's `training:`, then the keys set by
    `models.<model>.training`, `objectives.<objective>.training` and `remedies.<remedy>.training`, later ones
    winning (e.g. a block length per model, `packing: false` for an objective that trains on sentence pairs)."""
    merged = dict(config["training"])
    for section, name in (("models", model), ("objectives", objective), ("remedies", remedy)):
        merged.update(config[section][name].get("training") or {})
    return merged
