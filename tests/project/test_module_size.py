"""Every module of src/fairforget fits in 400 lines and every function in 80 (decorators included): a module a
reader can hold in mind, a function that does one job (issue 31)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "fairforget"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80

# A module or function allowed to stay long, each with its reason (none today).
EXEMPT_MODULES: set[str] = set()
EXEMPT_FUNCTIONS: set[str] = set()


def module_lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def function_lengths(path: Path) -> dict[str, int]:
    """Lines of every function and method (nested ones too), from its first decorator to its last line."""
    lengths: dict[str, int] = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            assert node.end_lineno is not None
            lengths[node.name] = max(lengths.get(node.name, 0), node.end_lineno - start + 1)
    return lengths


def modules() -> list[tuple[str, Path]]:
    return [(path.relative_to(PACKAGE).as_posix(), path) for path in sorted(PACKAGE.rglob("*.py"))]


def test_every_module_is_at_most_400_lines() -> None:
    long = {name: module_lines(path) for name, path in modules() if module_lines(path) > MAX_MODULE_LINES}
    assert not set(long) - EXEMPT_MODULES, f"modules over {MAX_MODULE_LINES} lines: {long}"


def test_every_function_is_at_most_80_lines() -> None:
    long = {
        f"{name}:{function}": length
        for name, path in modules()
        for function, length in function_lengths(path).items()
        if length > MAX_FUNCTION_LINES
    }
    assert not set(long) - EXEMPT_FUNCTIONS, f"functions over {MAX_FUNCTION_LINES} lines: {long}"


def test_the_exemptions_are_still_needed() -> None:
    """An exemption outlives its offender only by mistake: each listed module or function must still be long."""
    names = dict(modules())
    stale = [m for m in EXEMPT_MODULES if m not in names or module_lines(names[m]) <= MAX_MODULE_LINES]
    for entry in EXEMPT_FUNCTIONS:
        module, function = entry.split(":")
        if module not in names or function_lengths(names[module]).get(function, 0) <= MAX_FUNCTION_LINES:
            stale.append(entry)
    assert not stale, f"exemptions no longer needed (delete them): {stale}"


def test_the_checks_measure_what_they_say(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    body = "\n".join(f"    x{i} = {i}" for i in range(80))
    source.write_text(f"@decorator\ndef long():\n{body}\n\n\ndef short():\n    return 1\n", encoding="utf-8")
    assert function_lengths(source) == {"long": 82, "short": 2}
    assert module_lines(source) == 86
