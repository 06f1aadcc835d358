"""The study grid (fairforget.config.grid): the product in a stable order, per-objective model restrictions,
errors naming the key, and the per-run `training:` merge."""

from __future__ import annotations

import pytest

from fairforget.config.grid import run_grid, run_training_config
from fairforget.errors import ConfigError
from fairforget.paths import Run


def grid_config(**changes) -> dict:
    config = {
        "models": {"bert": {}, "gpt": {}},
        "objectives": {"cda": {}, "dpo": {"models": ["gpt"]}},
        "remedies": {"none": {}},
        "data_sizes": ["10%", "full"],
        "seeds": [0, 1],
        "training": {"learning_rate": 1e-4, "packing": True, "epochs": 1},
    }
    config.update(changes)
    return config


def test_the_grid_is_the_product_in_order_less_the_restricted_objectives() -> None:
    runs = run_grid(grid_config())
    # bert: cda only (dpo is restricted to gpt) = 1 x 1 x 2 sizes x 2 seeds = 4; gpt: 2 objectives x 4 = 8
    assert len(runs) == 12
    assert runs[:3] == [Run("bert", "cda", "none", "10pct", 0), Run("bert", "cda", "none", "10pct", 1),
                        Run("bert", "cda", "none", "full", 0)]  # fmt: skip
    assert {r.objective for r in runs if r.model == "bert"} == {"cda"}
    assert runs[-1] == Run("gpt", "dpo", "none", "full", 1)


def test_a_size_named_twice_and_an_empty_axis_name_their_key() -> None:
    with pytest.raises(ConfigError, match="config key 'data_sizes'.*names a size twice"):
        run_grid(grid_config(data_sizes=["100%", "full"]))
    with pytest.raises(ConfigError, match="config key 'seeds': the grid is empty"):
        run_grid(grid_config(seeds=[]))


def test_later_training_sections_win() -> None:
    config = grid_config()
    config["models"]["gpt"]["training"] = {"learning_rate": 3e-5, "epochs": 2}
    config["objectives"]["dpo"]["training"] = {"packing": False, "epochs": 3}
    merged = run_training_config(config, "gpt", "dpo", "none")
    assert merged == {"learning_rate": 3e-5, "packing": False, "epochs": 3}
    assert run_training_config(config, "bert", "cda", "none") == config["training"]
    assert config["training"]["epochs"] == 1  # the study's section is not changed by a merge
