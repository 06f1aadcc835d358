"""ParseCache (fairforget.workflow.parse_cache): parse-time work kept between snakemake calls, keyed by config and
code, never remembering a failure."""

from __future__ import annotations

import pytest

from conftest import REPO
from fairforget.errors import ConfigError
from fairforget.workflow.parse_cache import ParseCache


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
