"""The config schema and semantic checks reject bad configs with a message naming the key."""

from __future__ import annotations

import pytest
from conftest import REPO, load_config
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from fairforget.config import Run, run_grid
from fairforget.config.checks import check_config
from fairforget.errors import ConfigError
from fairforget.workflow.parse_cache import ParseCache

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


# ---- ParseCache: parse-time work kept between snakemake calls -------------------------------------------------


def test_parse_cache_checks_a_config_once_per_config_and_code(toy_config: dict, tmp_path) -> None:
    assert ParseCache(toy_config, REPO, tmp_path).check_config() is True  # first time: checked
    assert ParseCache(toy_config, REPO, tmp_path).check_config() is False  # same config and code: skipped
    toy_config["seeds"] = [0, 1, 2]
    assert ParseCache(toy_config, REPO, tmp_path).check_config() is True  # another config: checked again


def test_parse_cache_rechecks_when_a_plugin_file_changes(toy_config: dict, tmp_path) -> None:
    plugin = tmp_path / "my_plugin.py"
    plugin.write_text("X = 1\n")
    toy_config["plugins"] = [str(plugin)]
    cache_dir = tmp_path / "cache"
    assert ParseCache(toy_config, REPO, cache_dir).check_config() is True
    assert ParseCache(toy_config, REPO, cache_dir).check_config() is False
    plugin.write_text("X = 2\n")
    assert ParseCache(toy_config, REPO, cache_dir).check_config() is True


def test_parse_cache_key_survives_a_copied_study_but_not_an_edit(
    toy_config: dict, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fault tests and users copy or move a study with its .snakemake/: the same code and config in another
    folder keep the key (the cached values name no absolute path), an edited module does not."""
    import shutil
    from pathlib import Path

    from fairforget.workflow import parse_cache

    toy_config["plugins"] = ["my_plugin.py"]  # relative to the workflow folder, as in the docs
    keys = []
    for folder in ("a", "b"):
        package = Path(shutil.copytree(parse_cache.PACKAGE_DIR, tmp_path / folder / "src" / "fairforget"))
        (tmp_path / folder / "my_plugin.py").write_text("X = 1\n")
        monkeypatch.setattr(parse_cache, "PACKAGE_DIR", package)
        keys.append(parse_cache._code_and_config_key(toy_config, tmp_path / folder))
    assert keys[0] == keys[1] is not None
    module = package / "paths.py"
    source = module.read_text()
    module.write_text(source + "\n# edited\n")
    assert parse_cache._code_and_config_key(toy_config, tmp_path / "b") != keys[0]
    module.write_text(source)
    assert parse_cache._code_and_config_key(toy_config, tmp_path / "b") == keys[0]
    (tmp_path / "b" / "my_plugin.py").write_text("X = 2\n")
    assert parse_cache._code_and_config_key(toy_config, tmp_path / "b") != keys[0]


def test_parse_cache_never_remembers_a_failing_config(toy_config: dict, tmp_path) -> None:
    toy_config["objectives"]["typo"] = {"type": "cdaa"}
    for _ in range(2):
        with pytest.raises(ConfigError, match=r"objectives\.typo\.type"):
            ParseCache(toy_config, REPO, tmp_path).check_config()
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_parse_cache_is_off_for_plugins_given_as_module_names(toy_config: dict, tmp_path) -> None:
    toy_config["plugins"] = ["fairforget.errors"]  # importable from anywhere on sys.path: no file to hash
    assert ParseCache(toy_config, REPO, tmp_path).check_config() is True
    assert ParseCache(toy_config, REPO, tmp_path).check_config() is True


def test_parse_cache_value_is_the_same_on_a_miss_and_a_hit(toy_config: dict, tmp_path) -> None:
    """Values become rule params, which Snakemake compares by value (key order included) to decide on reruns."""
    calls = []

    def compute() -> dict:
        calls.append(1)
        return {"zeta": ("a", "b"), "alpha": {"y": 1, "x": None}}

    miss = ParseCache(toy_config, REPO, tmp_path).value("thing", ["results"], compute)
    hit = ParseCache(toy_config, REPO, tmp_path).value("thing", ["results"], compute)
    assert len(calls) == 1
    assert repr(miss) == repr(hit) == "{'zeta': ['a', 'b'], 'alpha': {'y': 1, 'x': None}}"
    ParseCache(toy_config, REPO, tmp_path).value("thing", ["elsewhere"], compute)  # other args: computed
    assert len(calls) == 2
