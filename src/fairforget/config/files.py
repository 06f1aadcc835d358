"""A study's config file as the `fairforget` commands read it (cache, code, plan): YAML with a mapping at the top,
relative to the current directory like Snakemake's `--configfile`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from fairforget.errors import ConfigError

DEFAULT_CONFIGFILE = "config/config.yaml"


def load_config(configfile: str | Path) -> dict[str, Any]:
    """The config file's mapping; a ConfigError naming the file when it is missing, malformed or not a mapping."""
    path = Path(configfile)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found (pass --configfile, or --store/--results directly)")
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: malformed YAML ({err})") from err
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return config
