"""The package's module graph has no import cycle, and `fairforget.models` is a leaf among the stage packages.

An invariant, not a style rule: a cycle means two modules cannot be understood, tested or changed apart. Every
`import` counts, at module level or inside a function (a lazy import only hides the dependency), except imports
under `if TYPE_CHECKING:`. `from a.b import c` is an edge to `a.b.c` when that is a module, else to `a.b`. A
module's implicit import of its parent package (Python runs `a/__init__.py` before `a.b`) is not an edge, so a
package's `__init__` may re-export its submodules; an explicit `from a import x` inside `a.b` is one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = "fairforget"


def module_name(path: Path, src: Path = SRC) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported_names(tree: ast.AST, module: str, is_package: bool) -> list[str]:
    """Dotted names of every module-or-attribute import in `tree`, relative imports resolved."""
    names: list[str] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _type_checking_only(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names.extend(f"{target}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return names


def import_graph(src: Path = SRC, package: str = PACKAGE) -> dict[str, set[str]]:
    files = {module_name(p, src): p for p in sorted((src / package).rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        edges: set[str] = set()
        for name in imported_names(ast.parse(path.read_text(encoding="utf-8")), module, path.name == "__init__.py"):
            if not name.startswith(package):
                continue
            # the longest known module that `name` names (an attribute import names its module)
            target = name
            while target and target not in files:
                target = target.rpartition(".")[0]
            if target and target != module:
                edges.add(target)
        graph[module] = edges
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component with more than one module (Tarjan), each as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = 0

    def connect(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return cycles


def test_the_package_has_no_import_cycle():
    cycles = find_cycles(import_graph())
    assert not cycles, "import cycles between fairforget modules:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The module graph collapsed to the package's direct children (fairforget.training, fairforget.paths, ...)."""
    packages: dict[str, set[str]] = {}
    for module, targets in graph.items():
        source = ".".join(module.split(".")[:2])
        packages.setdefault(source, set()).update(
            ".".join(target.split(".")[:2]) for target in targets if ".".join(target.split(".")[:2]) != source
        )
    return packages


def test_no_import_cycle_between_subpackages():
    """E.g. models <-> training (toy pretraining in models used the engine) or provenance <-> analysis."""
    cycles = find_cycles(package_graph(import_graph()))
    assert not cycles, "import cycles between fairforget subpackages:\n" + "\n".join(" <-> ".join(c) for c in cycles)


# Modules every layer may use; `models` builds only on these.
FOUNDATION = {"fairforget", "fairforget.errors", "fairforget.hashing", "fairforget.io", "fairforget.registry"}


def test_models_is_a_leaf_package():
    graph = import_graph()
    outside = {
        (module, target)
        for module, targets in graph.items()
        if module.startswith("fairforget.models")
        for target in targets
        if not target.startswith("fairforget.models") and target not in FOUNDATION
    }
    assert not outside, f"fairforget.models imports other stage packages: {sorted(outside)}"


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_the_check_finds_a_lazy_cycle_and_ignores_type_checking_imports(tmp_path: Path):
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "from pkg.a import f\n",
            "pkg/a.py": "def f():\n    from pkg.sub import b\n",
            "pkg/sub/__init__.py": "",
            "pkg/sub/b.py": "from ..a import f\n",  # relative: pkg.a
            "pkg/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.d import X\n",
            "pkg/d.py": "import pkg.c\n",
        },
    )
    graph = import_graph(tmp_path, "pkg")
    assert graph["pkg.a"] == {"pkg.sub.b"} and graph["pkg.sub.b"] == {"pkg.a"}
    assert graph["pkg.c"] == set() and graph["pkg.d"] == {"pkg.c"}
    assert graph["pkg"] == {"pkg.a"}
    assert find_cycles(graph) == [["pkg.a", "pkg.sub.b"]]


@pytest.mark.parametrize("edge", [("x", "y"), ("y", "x")])
def test_a_one_way_dependency_is_no_cycle(edge):
    graph = {"x": set(), "y": set()}
    graph[edge[0]].add(edge[1])
    assert find_cycles(graph) == []


def test_every_module_is_in_the_architecture_package_map():
    text = (SRC.parent / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    section = text[text.index("## 4. Package map") : text.index("## 5.")]
    missing = []
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        if path.name == "__init__.py":
            found = f"{path.parent.name}/" in section or path.parent.name == PACKAGE
        else:
            found = f"{path.stem}.py" in section or f"`{path.stem}`" in section
        if not found:
            missing.append(path.relative_to(SRC).as_posix())
    assert not missing, f"modules missing from docs/ARCHITECTURE.md's package map: {missing}"
