"""No private name crosses a module boundary: a `_name` of a fairforget module is used only in that module, and a
private module (`objectives/_text.py`) only inside its own package. Checked over the package, the rule scripts,
the benchmarks and the tools (tests may reach into a module's privates to test them)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("src/fairforget", "workflow_scripts", "benchmarks", "tools")


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def private_imports(tree: ast.AST, package: str) -> list[str]:
    """`module.name` for each private fairforget name `tree` imports or reads as a module attribute, and each
    private module imported from outside its package (`package`: the importing module's package)."""
    found: list[str] = []
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("fairforget"):
            module = node.module or ""
            parts = module.split(".")
            if any(_private(part) for part in parts) and ".".join(parts[:-1]) != package:
                found.append(module)
            found.extend(f"{module}.{alias.name}" for alias in node.names if _private(alias.name))
            modules.update(alias.asname or alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            modules.update(alias.asname or alias.name for alias in node.names if alias.name.startswith("fairforget"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            value = node.value
            if isinstance(value, ast.Name) and value.id in modules:
                found.append(f"{value.id}.{node.attr}")
    return found


def _package(path: Path) -> str:
    if not path.is_relative_to(ROOT / "src"):
        return ""
    return ".".join(path.relative_to(ROOT / "src").with_suffix("").parts[:-1])


def test_no_private_name_is_imported_across_modules() -> None:
    found = {}
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            names = private_imports(ast.parse(path.read_text(encoding="utf-8")), _package(path))
            if names:
                found[path.relative_to(ROOT).as_posix()] = names
    assert not found, f"private names used across modules (make them public in their home): {found}"


def test_the_check_finds_a_private_name_an_attribute_and_a_private_module() -> None:
    code = (
        "from fairforget.cli.cache import _load_config, load\n"
        "from fairforget import paths\n"
        "paths._FIELD\n"
        "from fairforget.training.objectives._text import TextObjective\n"
    )
    tree = ast.parse(code)
    assert private_imports(tree, "fairforget.training.objectives") == [
        "fairforget.cli.cache._load_config",
        "paths._FIELD",
    ]
    assert "fairforget.training.objectives._text" in private_imports(tree, "fairforget.cli")
