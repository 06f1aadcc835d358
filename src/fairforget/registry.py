"""Name -> implementation registries, so that a new objective, remedy or metric is one new file."""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Generic, TypeVar

from fairforget.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """A named collection of implementations (classes or functions).

    `package` is the dotted name of a package whose modules register themselves on import;
    `discover()` imports them all, so dropping a module into that package is enough.
    """

    def __init__(self, kind: str, package: str | None = None) -> None:
        self.kind = kind
        self.package = package
        self._items: dict[str, T] = {}
        self._discovered = False

    def register(self, name: str) -> Callable[[T], T]:
        def decorator(item: T) -> T:
            if name in self._items and self._items[name] is not item:
                raise ConfigError(f"{self.kind} '{name}' is registered twice")
            self._items[name] = item
            return item

        return decorator

    def discover(self) -> None:
        if self._discovered or self.package is None:
            return
        package = importlib.import_module(self.package)
        for module in pkgutil.iter_modules(package.__path__):
            if not module.name.startswith("_"):
                importlib.import_module(f"{self.package}.{module.name}")
        self._discovered = True

    def get(self, name: str, key: str | None = None) -> T:
        self.discover()
        if name not in self._items:
            where = f"config key '{key}': " if key else ""
            raise ConfigError(
                f"{where}unknown {self.kind} '{name}'; allowed: {', '.join(sorted(self._items)) or '(none)'}"
            )
        return self._items[name]

    def names(self) -> list[str]:
        self.discover()
        return sorted(self._items)

    def __contains__(self, name: str) -> bool:
        self.discover()
        return name in self._items


def load_plugins(plugins: Iterable[str], base_dir: str | Path = ".") -> None:
    """Import plugin modules given as dotted names or paths to .py files (relative to base_dir)."""
    for index, spec in enumerate(plugins):
        if spec.endswith(".py"):
            path = Path(spec)
            if not path.is_absolute():
                path = Path(base_dir) / path
            if not path.is_file():
                raise ConfigError(f"config key 'plugins[{index}]': file {path} not found")
            name = f"fairforget_plugin_{path.stem}"
            if name in sys.modules:
                continue
            module_spec = importlib.util.spec_from_file_location(name, path)
            assert module_spec is not None and module_spec.loader is not None
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[name] = module
            module_spec.loader.exec_module(module)
        else:
            try:
                importlib.import_module(spec)
            except ImportError as err:
                raise ConfigError(f"config key 'plugins[{index}]': cannot import '{spec}' ({err})") from err
