"""config/schema.yaml is the config reference: every key described, every optional key with a default equal to
the one the package uses, the defaults set at validation, and docs/configuration.md generated from it."""

from __future__ import annotations

import copy
from dataclasses import asdict, fields
from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate

from fairforget.config.schema import NO_DEFAULT, SCHEMA, defaults, keys, reference_markdown

REPO = Path(__file__).resolve().parents[3]
# Optional keys whose absence means something no single default value can say (documented in their description).
NO_DEFAULT_BY_DESIGN = {
    "models.*.hub_id",
    "models.*.local_path",
    "models.*.gguf_file",
    "models.*.gguf_package",  # unset = gguf_file is a path
    "models.*.gguf_sha256",  # unset = not checked, only recorded
    "models.*.architecture",
    "models.*.pretrain",  # per source
    "models.*.gpus",
    "models.*.mem_mb",
    "models.*.runtime",  # per-rule defaults in rules/*.smk
    "models.*.downstream_mode",  # unset = downstream.mode.<kind>
    "models.*.training",  # overrides only the keys it sets
    "models.*.n_params",  # unset = computed by `fairforget plan` where it can be
    "objectives.*.training",  # overrides only the keys it sets
    "remedies.*.training",
    "objectives.*.params",
    "objectives.*.models",
    "objectives.*.description",  # declared per implementation
    "remedies.*.params",
    "remedies.*.models",
    "remedies.*.description",
}


def test_every_key_has_a_description_and_every_optional_key_a_default():
    entries = keys()
    assert len(entries) > 100
    undescribed = [k.path for k in entries if not k.description.strip()]
    assert not undescribed, f"keys without a description: {undescribed}"
    no_default = [
        k.path for k in entries if not k.required and k.default is NO_DEFAULT and k.path not in NO_DEFAULT_BY_DESIGN
    ]
    assert not no_default, f"optional keys without a default: {no_default}"


def _public(obj) -> dict:
    return {f.name: getattr(obj, f.name) for f in fields(obj)}


def test_schema_defaults_equal_the_training_engine_defaults():
    from fairforget.training.settings import TrainSettings

    engine = _public(TrainSettings())
    for section in ("training", "models.*.pretrain"):
        for name, value in defaults(section).items():
            if name in engine:
                assert engine[name] == value, f"{section}.{name}: schema {value!r}, TrainSettings {engine[name]!r}"
    assert defaults("training")["probe_every_steps"] == engine["probe_every_steps"]


def test_schema_defaults_equal_the_downstream_evaluation_and_analysis_defaults():
    from fairforget.analysis.settings import AnalysisSettings
    from fairforget.downstream.settings import DownstreamSettings
    from fairforget.metrics.base import EvaluationSettings

    downstream = asdict(DownstreamSettings())
    for name, value in defaults("downstream").items():
        if name in ("lora", "zeroshot", "linear_probe"):
            continue
        expected = list(downstream[name]) if isinstance(downstream[name], tuple) else downstream[name]
        assert expected == value, f"downstream.{name}"
    for section in ("lora", "zeroshot", "linear_probe"):
        for name, value in defaults(f"downstream.{section}").items():
            expected = downstream[section][name]
            expected = list(expected) if isinstance(expected, tuple) else expected
            assert expected == value, f"downstream.{section}.{name}"

    evaluation = EvaluationSettings().to_json()
    for name, value in defaults("evaluation").items():
        assert evaluation[name] == value, f"evaluation.{name}"

    analysis = asdict(AnalysisSettings())
    for name, value in defaults("analysis").items():
        assert analysis[name] == value, f"analysis.{name}"


def _validated(config: dict) -> dict:
    config = copy.deepcopy(config)
    validate(config, str(SCHEMA), set_default=True)
    return config


def test_validation_sets_the_defaults_of_left_out_keys_but_not_into_model_overrides():
    config = yaml.safe_load((REPO / "config" / "micro.yaml").read_text())
    config.pop("analysis", None)
    del config["training"]["warmup_ratio"]
    config["evaluation"].pop("kl", None)
    model = next(iter(config["models"]))
    config["models"][model]["training"] = {"batch_size": 4}
    done = _validated(config)
    assert done["training"]["warmup_ratio"] == 0.1 and done["evaluation"]["kl"] is True
    assert done["analysis"]["alpha"] == 0.05 and done["plugins"] == []
    assert done["data"]["debias"]["corpus"] == "wikitext2" and done["data"]["debias"]["extra_corpus"] is None
    assert done["models"][model]["training"] == {"batch_size": 4}  # an override is only what it sets


@pytest.mark.parametrize("name", ["config.yaml", "micro.yaml", "paper.yaml"])
def test_shipped_configs_change_only_by_added_defaults(name):
    """Setting defaults adds keys; it never changes a value a config states."""
    config = yaml.safe_load((REPO / "config" / name).read_text())

    def check(given, done, where):
        if isinstance(given, dict):
            for key, value in given.items():
                check(value, done[key], f"{where}.{key}")
        else:
            assert done == given, where

    check(config, _validated(config), name)


def test_the_configuration_reference_is_current():
    committed = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert committed.startswith(reference_markdown()), (
        "docs/configuration.md is stale: run `.venv/bin/python -m fairforget.config.schema` and keep the notes "
        "below the table"
    )
