"""The study grid: one fine-tuning run per model x objective x remedy x data size x seed."""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass
from typing import Any

from fairforget.data.sizes import size_fraction, size_label
from fairforget.errors import ConfigError
from fairforget.paths import run_id, run_path


@dataclass(frozen=True)
class Run:
    model: str
    objective: str
    remedy: str
    size: str  # "full", a positive integer as text, or a percentage label such as "10pct" (size_label)
    seed: int

    @property
    def path(self) -> str:
        """Path fragment used under every stage's results folder."""
        return run_path(self.model, self.objective, self.remedy, self.size, self.seed)

    @property
    def run_id(self) -> str:
        return run_id(self.path)

    def wildcards(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def size_limit(self) -> int | None:
        """The size as a number of texts; None for `full` and for a fraction (resolved against the corpus by
        `resolve_size` once the corpus exists)."""
        return None if size_fraction(self.size) is not None or self.size == "full" else int(self.size)


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
