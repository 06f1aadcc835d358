"""`grid_subset` (fairforget.config.grid.run_grid): the runs an overlay keeps from the grid, validated by the schema
and by run_grid with a ConfigError naming the selector's key."""

from __future__ import annotations

import copy

import pytest
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from conftest import REPO, load_config
from fairforget.config import Run, run_grid
from fairforget.errors import ConfigError

SCHEMA = str(REPO / "config" / "schema.yaml")


@pytest.fixture
def grid_config() -> dict:
    """The toy config with a third data size and two seeds: 2 models x 4 objectives x 2 remedies x 2 sizes x 2."""
    config = copy.deepcopy(load_config("config.yaml"))
    config["data_sizes"] = ["10%", "full"]
    config["seeds"] = [0, 1]
    return config


def test_no_subset_keeps_the_cross_product(grid_config: dict) -> None:
    validate(grid_config, SCHEMA, set_default=True)
    assert grid_config["grid_subset"] is None
    models, objectives = list(grid_config["models"]), list(grid_config["objectives"])
    remedies = list(grid_config["remedies"])
    assert len(run_grid(grid_config)) == len(models) * len(objectives) * len(remedies) * 2 * 2


def test_selectors_keep_the_runs_any_of_them_matches(grid_config: dict) -> None:
    model = list(grid_config["models"])[0]
    objective, remedy = list(grid_config["objectives"])[1], list(grid_config["remedies"])[1]
    grid_config["grid_subset"] = [
        {"model": model, "objective": objective, "remedy": remedy, "data_size": "10%", "seed": 1},
        {"objective": objective, "data_size": "full", "seed": 0},  # every model and remedy
    ]
    validate(grid_config, SCHEMA, set_default=True)
    runs = run_grid(grid_config)
    expected = [Run(model, objective, remedy, "10pct", 1)] + [
        Run(m, objective, r, "full", 0) for m in grid_config["models"] for r in grid_config["remedies"]
    ]
    assert sorted(runs, key=str) == sorted(expected, key=str)
    # in the grid's own order, each run once although two selectors could match it
    grid_config["grid_subset"].append({"objective": objective})
    runs = run_grid(grid_config)
    assert len(runs) == len(set(runs)) and runs == [
        r for r in run_grid({**grid_config, "grid_subset": None}) if r in runs
    ]


@pytest.mark.parametrize(
    ("key", "value", "axis"),
    [
        ("model", "gpt-2", "models"),
        ("objective", "cdaa", "objectives"),
        ("remedy", "rplay", "remedies"),
        ("data_size", "50%", "data_sizes"),
        ("seed", 7, "seeds"),
    ],
)
def test_a_name_outside_the_grid_names_the_selector_key(grid_config: dict, key: str, value: object, axis: str) -> None:
    grid_config["grid_subset"] = [{"seed": 0}, {key: value}]
    validate(grid_config, SCHEMA, set_default=True)  # the schema knows the shape, not the grid's names
    with pytest.raises(ConfigError, match=rf"grid_subset\[1\]\.{key}'.*{value!r}.*not in '{axis}'; allowed: "):
        run_grid(grid_config)


def test_a_selector_matching_no_run_is_named(grid_config: dict) -> None:
    model, other = list(grid_config["models"])
    objective = list(grid_config["objectives"])[1]
    grid_config["objectives"][objective]["models"] = [other]
    grid_config["grid_subset"] = [{"model": model, "objective": objective}]
    with pytest.raises(ConfigError, match=r"grid_subset\[0\]'.*matches no run"):
        run_grid(grid_config)


@pytest.mark.parametrize(
    "bad",
    [[], [{}], [{"objective": "cda", "optimizer": "adam"}], [{"data_size": "ten"}], [{"seed": -1}], {"model": "x"}],
)
def test_schema_rejects_malformed_subsets(grid_config: dict, bad: object) -> None:
    grid_config["grid_subset"] = bad
    with pytest.raises(WorkflowError, match="grid_subset"):
        validate(grid_config, SCHEMA, set_default=True)


def test_an_unknown_selector_key_is_named_without_the_schema(grid_config: dict) -> None:
    grid_config["grid_subset"] = [{"objective": list(grid_config["objectives"])[0], "optimizer": "adam"}]
    with pytest.raises(ConfigError, match=r"grid_subset\[0\]\.optimizer': unknown key; allowed: model, objective"):
        run_grid(grid_config)
