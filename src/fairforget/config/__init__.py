"""The study configuration: the run grid (`config.grid`), the checks a JSON schema cannot express
(`config.checks`) and the schema itself as the reference of every key with its default (`config.schema`)."""

from fairforget.config.grid import run_grid, run_training_config, size_label
from fairforget.paths import Run

__all__ = ["Run", "run_grid", "run_training_config", "size_label"]
