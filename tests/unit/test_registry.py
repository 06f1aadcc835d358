"""Registries (fairforget.registry): registration, lookup errors naming the config key and the allowed names,
discovery of a package's public modules, and plugins given as files or module names."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from fairforget.errors import ConfigError
from fairforget.registry import Registry, load_plugins


def test_register_get_and_names() -> None:
    registry: Registry[type] = Registry("widget")

    @registry.register("b")
    class B:
        pass

    registry.register("a")(int)
    assert registry.get("b") is B and registry.names() == ["a", "b"] and "a" in registry and "c" not in registry
    registry.register("b")(B)  # the same item again (a module imported twice) is no conflict
    with pytest.raises(ConfigError, match="widget 'b' is registered twice"):
        registry.register("b")(str)


def test_an_unknown_name_lists_the_allowed_ones_and_the_key() -> None:
    registry: Registry[type] = Registry("remedy")
    registry.register("none")(object)
    registry.register("ewc")(object)
    with pytest.raises(ConfigError, match=r"config key 'remedies.x.type': unknown remedy 'lora'; allowed: ewc, none"):
        registry.get("lora", key="remedies.x.type")
    with pytest.raises(ConfigError, match=r"unknown thing 'x'; allowed: \(none\)"):
        Registry("thing").get("x")


def test_discover_imports_the_public_modules_of_its_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "widgets_pkg"
    package.mkdir()
    (package / "__init__.py").write_text(
        "from fairforget.registry import Registry\nWIDGETS = Registry('widget', 'widgets_pkg')\n"
    )
    for name in ("round", "square", "_private"):
        (package / f"{name}.py").write_text(f"from widgets_pkg import WIDGETS\nWIDGETS.register('{name}')(object)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        from widgets_pkg import WIDGETS  # type: ignore[import-not-found]

        assert WIDGETS.names() == ["round", "square"]  # a leading underscore marks a helper, not an implementation
    finally:
        for name in [m for m in sys.modules if m.startswith("widgets_pkg")]:
            del sys.modules[name]


def test_plugins_as_files_or_modules_with_errors_naming_the_entry(tmp_path: Path) -> None:
    plugin = tmp_path / "my_registry_plugin.py"
    plugin.write_text("LOADED = True\n")
    load_plugins(["fairforget.errors", "my_registry_plugin.py"], base_dir=tmp_path)
    try:
        assert sys.modules["fairforget_plugin_my_registry_plugin"].LOADED
    finally:
        del sys.modules["fairforget_plugin_my_registry_plugin"]
    with pytest.raises(ConfigError, match=r"config key 'plugins\[1\]': file .*absent.py not found"):
        load_plugins(["fairforget.errors", "absent.py"], base_dir=tmp_path)
    with pytest.raises(ConfigError, match=r"config key 'plugins\[0\]': cannot import 'no_such_module_xyz'"):
        load_plugins(["no_such_module_xyz"])
