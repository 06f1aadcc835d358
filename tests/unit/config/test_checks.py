"""The config schema and semantic checks reject bad configs with a message naming the key."""

from __future__ import annotations

import pytest
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from conftest import REPO, load_config
from fairforget.config import Run, run_grid
from fairforget.config.checks import check_config
from fairforget.errors import ConfigError

SCHEMA = str(REPO / "config" / "schema.yaml")


@pytest.mark.parametrize("name", ["config.yaml", "micro.yaml", "paper.yaml"])
def test_shipped_configs_are_valid(name: str, tmp_path) -> None:
    config = load_config(name)
    validate(config, SCHEMA)
    if name == "paper.yaml":
        # its Wikipedia is not in the tests' empty datasets cache: the check names the command that fetches it
        fetch = (
            "python -c \"import datasets; datasets.load_dataset('wikimedia/wikipedia', '20231101.en', split='train')\""
        )
        with pytest.raises(ConfigError, match="data.debias.corpus") as missing:
            check_config(config)
        assert fetch in str(missing.value)
        config["data"]["debias"]["corpus"] = {"path": str(REPO / "resources" / "data" / "wikitext2" / "wiki.test.raw")}
        # the replay text names the same Wikipedia (data.general.replay_corpus), checked the same way
        with pytest.raises(ConfigError, match="data.general.replay_corpus") as missing_replay:
            check_config(config)
        assert fetch in str(missing_replay.value)
        config["data"]["general"]["replay_corpus"] = "wikitext2"
    check_config(config)
    assert run_grid(config)


def _validation_message(config: dict) -> str:
    with pytest.raises(WorkflowError) as info:
        validate(config, SCHEMA)
    return str(info.value)


def test_unknown_top_level_key_is_named(toy_config: dict) -> None:
    toy_config["learning_rte"] = 0.1
    assert "learning_rte" in _validation_message(toy_config)


def test_unknown_nested_key_is_named(toy_config: dict) -> None:
    toy_config["training"]["batchsize"] = 8
    assert "batchsize" in _validation_message(toy_config)


def test_misspelt_pretrain_or_model_training_key_is_named(toy_config: dict) -> None:
    """A model's `pretrain` and `training` sections were open objects: a typo there was silently ignored."""
    model = next(iter(toy_config["models"]))
    toy_config["models"][model]["pretrain"]["gender_mask_probabilty"] = 1.0
    assert "gender_mask_probabilty" in _validation_message(toy_config)
    del toy_config["models"][model]["pretrain"]["gender_mask_probabilty"]
    toy_config["models"][model]["training"] = {"learnig_rate": 0.1}
    assert "learnig_rate" in _validation_message(toy_config)
    toy_config["models"][model]["training"] = {"optimizer_impl": "fuzed"}
    assert "fuzed" in _validation_message(toy_config)
    toy_config["models"][model]["training"] = {"optimizer_impl": "fused", "group_by_length": True}
    validate(toy_config, SCHEMA)


def test_wrong_type_names_the_key(toy_config: dict) -> None:
    toy_config["training"]["batch_size"] = "sixteen"
    message = _validation_message(toy_config)
    assert "batch_size" in message and "sixteen" in message


@pytest.mark.parametrize("bad", [0, -5])
def test_non_positive_data_size_rejected(toy_config: dict, bad: int) -> None:
    toy_config["data_sizes"] = [bad]
    _validation_message(toy_config)
    with pytest.raises(ConfigError, match="data_sizes"):
        run_grid(toy_config)


def test_empty_grid_rejected(toy_config: dict) -> None:
    toy_config["seeds"] = []
    assert "seeds" in _validation_message(toy_config)
    with pytest.raises(ConfigError, match="'seeds'.*empty"):
        run_grid(toy_config)


def test_unknown_objective_type_names_key_and_allowed(toy_config: dict) -> None:
    toy_config["objectives"]["mine"] = {"type": "no_such_objective"}
    with pytest.raises(ConfigError, match=r"objectives\.mine\.type.*no_such_objective.*allowed: .*none"):
        check_config(toy_config)


def test_unknown_remedy_type_names_key(toy_config: dict) -> None:
    toy_config["remedies"]["x"] = {"type": "magic"}
    with pytest.raises(ConfigError, match=r"remedies\.x\.type"):
        check_config(toy_config)


def test_hub_model_needs_hub_id(toy_config: dict) -> None:
    toy_config["models"]["big"] = {"kind": "masked", "source": "hub"}
    with pytest.raises(ConfigError, match=r"models\.big\.hub_id"):
        check_config(toy_config)


def test_grid_is_the_product_with_readable_ids(toy_config: dict) -> None:
    toy_config["data_sizes"] = [100, "full"]
    toy_config["seeds"] = [0, 1]
    runs = run_grid(toy_config)
    expected = len(toy_config["models"]) * len(toy_config["objectives"]) * len(toy_config["remedies"]) * 2 * 2
    assert len(runs) == expected == len(set(runs))
    run = Run("bert-tiny", "cda", "none", "100", 1)
    assert run in runs
    assert run.path == "bert-tiny/cda/none/100/seed1"
    assert run.run_id == "bert-tiny__cda__none__100__seed1"
    assert run.size_limit == 100


def test_objective_restricted_to_models(toy_config: dict) -> None:
    toy_config["objectives"]["causal_only"] = {"type": "none", "models": ["llama-tiny"]}
    runs = [r for r in run_grid(toy_config) if r.objective == "causal_only"]
    assert runs and {r.model for r in runs} == {"llama-tiny"}


def test_bad_objective_param_names_key_before_any_job(toy_config: dict) -> None:
    toy_config["objectives"]["cda"]["params"] = {"sided": "three"}
    with pytest.raises(ConfigError, match=r"objectives\.cda\.params\.sided"):
        check_config(toy_config)


def test_unknown_task_names_key_and_allowed(toy_config: dict) -> None:
    toy_config["data"]["downstream"]["tasks"] = ["sst2", "imdb"]
    with pytest.raises(ConfigError, match=r"data\.downstream\.tasks.*imdb.*allowed: .*sst2"):
        check_config(toy_config)


@pytest.mark.slow  # starts Snakemake (a dry run): not in the fast tier
def test_workflow_stops_before_any_job_on_bad_config(tmp_path) -> None:
    """Through Snakemake itself: a bad objective type fails at parse time, naming the key; nothing runs."""
    import yaml

    from workflow_helpers import copy_workflow, snakemake

    workdir = copy_workflow(tmp_path / "wf")
    config = load_config("micro.yaml")
    config["objectives"]["typo"] = {"type": "cdaa"}
    (workdir / "config" / "bad.yaml").write_text(yaml.safe_dump(config))
    for _ in range(2):  # a failed check is not remembered (ParseCache): it fails every time
        result = snakemake(workdir, "-n", "--configfile", "config/bad.yaml", check=False)
        assert result.returncode != 0
        assert "objectives.typo.type" in result.stdout + result.stderr and "cdaa" in result.stdout + result.stderr
    assert not (workdir / "results").exists()


def test_unknown_metric_names_key_and_allowed(toy_config: dict) -> None:
    toy_config["evaluation"]["metrics"] = ["overall_forgetting", "crows_pair"]
    with pytest.raises(ConfigError, match=r"evaluation\.metrics.*crows_pair.*allowed: .*crows_pairs"):
        check_config(toy_config)
