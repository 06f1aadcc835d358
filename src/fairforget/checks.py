"""Checks of the config that a JSON schema cannot express; run when the Snakefile is parsed, before any job.

Also `ParseCache`: parse-time results (the check, the evaluation's inputs) kept between `snakemake` calls."""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fairforget.config import run_grid
from fairforget.errors import ConfigError
from fairforget.hashing import canonical_json, canonical_json_hash
from fairforget.io import atomic_write_text
from fairforget.registry import load_plugins


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
    needs = {"toy": ("architecture", "pretrain"), "hub": ("hub_id",), "local": ("local_path",)}
    for name, model in config["models"].items():
        for key in needs[model["source"]]:
            if key not in model:
                raise ConfigError(f"config key 'models.{name}.{key}' is required when source is '{model['source']}'")


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


def check_config(config: dict[str, Any]) -> None:
    """Raise ConfigError naming the key and the allowed values for any semantic error."""
    from fairforget.training.plugins import OBJECTIVES, REMEDIES

    _check_models(config)
    _check_plugin_types(config, "objectives", OBJECTIVES)
    _check_plugin_types(config, "remedies", REMEDIES)
    _check_tasks(config)
    _check_metrics(config)
    if not run_grid(config):
        raise ConfigError("config keys 'models'/'objectives': no run is left after applying 'objectives.*.models'")



class ParseCache:
    """Parse-time work that depends only on the config and on this package's code, kept between `snakemake` calls.

    `check_config` and the evaluation's input list import every objective, remedy and metric, hence torch,
    peft and scipy: seconds that every `snakemake` call (a dry run, a no-op rerun, each cluster job, which
    parses the Snakefile again) would pay anew. Entries live in `cache_dir/<key>/`, where the key hashes the
    Python version, the config and the bytes of every module of this package and every plug-in file; a plug-in
    given as a dotted module name may live anywhere on sys.path, so such a config is never cached. A config that
    fails its check gets no entry, so it fails every time.
    """

    def __init__(self, config: dict[str, Any], base_dir: str | Path, cache_dir: str | Path) -> None:
        self.config = config
        self.base_dir = Path(base_dir)
        key = _code_and_config_key(config, self.base_dir)
        self.folder = Path(cache_dir) / key if key else None

    def check_config(self) -> bool:
        """load_plugins + check_config unless this config passed with this code before; True if it ran."""
        stamp = self.folder / "config-ok" if self.folder else None
        if stamp is not None and stamp.is_file():
            return False
        load_plugins(self.config.get("plugins", []), base_dir=self.base_dir)
        check_config(self.config)
        if stamp is not None:
            _write_atomic(stamp, "")
        return True

    def value(self, name: str, args: Any, compute: Callable[[], Any]) -> Any:
        """compute()'s JSON-able result (as JSON gives it back), cached by name, args (JSON-able) and the key."""
        entry = self.folder / f"{name}-{canonical_json_hash(args)}.json" if self.folder else None
        if entry is not None and entry.is_file():
            try:
                return json.loads(entry.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                pass  # unreadable (e.g. cut short by a full disk): compute it again
        load_plugins(self.config.get("plugins", []), base_dir=self.base_dir)  # compute() may use their registries
        # Round-tripped through JSON (key order kept) so that a miss returns exactly what a later hit returns:
        # these values become rule params, which Snakemake compares by value to decide on reruns.
        text = json.dumps(compute())
        if entry is not None:
            _write_atomic(entry, text)
        return json.loads(text)


def _code_and_config_key(config: dict[str, Any], base_dir: Path) -> str | None:
    plugin_files = []
    for spec in config.get("plugins", []):
        path = Path(spec) if Path(spec).is_absolute() else base_dir / spec
        if not spec.endswith(".py") or not path.is_file():
            return None  # a dotted name, or a missing file the real check reports by config key
        plugin_files.append(path)
    digest = hashlib.sha256(f"{sys.version}\n{canonical_json(config)}\n".encode())
    package = Path(__file__).resolve().parent
    for path in sorted(package.rglob("*.py")) + plugin_files:
        data = path.read_bytes()
        digest.update(f"{path}\n{len(data)}\n".encode())
        digest.update(data)
    return digest.hexdigest()


def _write_atomic(path: Path, text: str) -> None:
    try:
        atomic_write_text(path, text)
    except OSError:
        pass  # a read-only working directory only costs the work again next time
