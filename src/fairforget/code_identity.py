"""Code fingerprints: which code made a checkpoint or a result (docs/caching.md, "Code identity").

The rule (the "code path" of a component):

- A component (an objective, remedy, metric, downstream mode, model source, or a stage's entry module) is the
  module that defines it. Its fingerprint hashes that module and every `fairforget` module it imports,
  transitively: `import` statements anywhere in a file count (also inside functions, where the package imports
  lazily), plus the `__init__.py` of each package on the way. Registries import their implementations
  dynamically, so a stage's entry module does not reach every objective or metric: each has its own fingerprint.
- A plug-in file (config `plugins:`) is hashed by content, tracked by git or not; so are the modules next to it
  that it imports (`import helper` -> `helper.py` in the same folder).
- Not followed: modules that cache, record or report results but never compute them (`NOT_ON_CODE_PATHS`: the
  result store, provenance, this module, the workflow support, the error classes). Editing the store's locking or
  garbage collection must not make every evaluation a cache miss.
- A file is hashed as its syntax tree without docstrings: comments, docstrings and formatting do not count,
  so rewording a comment reruns nothing. Third-party packages are not hashed (their versions are in every
  provenance record).
- A job's identity combines its components' fingerprints; `code_pin` (config) replaces a component's fingerprint
  by a fixed value on purpose, and the identity lists what was pinned.
"""

from __future__ import annotations

import ast
import hashlib
import sys
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from fairforget.errors import ConfigError
from fairforget.hashing import canonical_json_hash

PACKAGE = "fairforget"
PACKAGE_DIR = Path(__file__).resolve().parent
# Modules (and packages) that move, cache or record results without computing them (docstring).
NOT_ON_CODE_PATHS = (
    "fairforget.store",
    "fairforget.provenance",
    "fairforget.code_identity",
    "fairforget.workflow",
    "fairforget.errors",
)


def _excluded(module: str) -> bool:
    return any(module == name or module.startswith(name + ".") for name in NOT_ON_CODE_PATHS)


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                if isinstance(body[0].value.value, str):
                    node.body = body[1:] or [ast.Pass()]
    return tree


@cache
def _parsed(path: Path, stamp: tuple[int, int]) -> tuple[str, ast.AST]:
    """(normalised source hash, tree) of a file; `stamp` (mtime, size) invalidates the memo when it changes."""
    try:
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source, filename=str(path))
    except (OSError, SyntaxError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot fingerprint the code ({err})") from err
    normalised = ast.dump(_strip_docstrings(ast.parse(source)), include_attributes=False)
    return hashlib.sha256(normalised.encode()).hexdigest(), tree


def source_hash(path: Path) -> str:
    """sha256 of the file's syntax tree without docstrings (comments and formatting do not count)."""
    stat = path.stat()
    return _parsed(path.resolve(), (stat.st_mtime_ns, stat.st_size))[0]


def _tree(path: Path) -> ast.AST:
    stat = path.stat()
    return _parsed(path.resolve(), (stat.st_mtime_ns, stat.st_size))[1]


def _package_module_file(name: str) -> Path | None:
    """The file of a `fairforget...` module (a package's `__init__.py`), or None when there is none."""
    parts = name.split(".")
    if parts[0] != PACKAGE:
        return None
    base = PACKAGE_DIR.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _module_name(path: Path) -> str | None:
    try:
        rel = path.resolve().relative_to(PACKAGE_DIR)
    except ValueError:
        return None
    parts = [PACKAGE, *rel.with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _package_inits(module: str) -> list[Path]:
    """The `__init__.py` of every package above `module`: Python runs them before the module."""
    parts = module.split(".")
    inits = (_package_module_file(".".join(parts[:depth])) for depth in range(1, len(parts)))
    return [init.resolve() for init in inits if init is not None and init.name == "__init__.py"]


def _imported(tree: ast.AST, module: str | None, is_package: bool) -> list[str]:
    """Dotted names imported anywhere in `tree` (relative imports resolved against `module`)."""
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            target = node.module or ""
            if node.level and module is not None:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            names.append(target)
            names.extend(f"{target}.{alias.name}" for alias in node.names)
    return names


def code_files(start: Path) -> list[Path]:
    """`start` and every file on its code path (the module docstring's rule), sorted."""
    start = start.resolve()
    seen: set[Path] = set()
    pending = [start]
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        module = _module_name(path)
        if module is not None:
            pending.extend(_package_inits(module))
        for name in _imported(_tree(path), module, path.name == "__init__.py"):
            found = _package_module_file(name)
            if found is not None and _excluded(_module_name(found) or ""):
                continue
            if found is not None:
                pending.append(found.resolve())
            elif module is None and name and not name.startswith(PACKAGE + "."):
                # a plug-in's own helper module next to it
                sibling = path.parent / f"{name.split('.')[0]}.py"
                if sibling.is_file():
                    pending.append(sibling.resolve())
    return sorted(seen)


def _label(path: Path) -> str:
    """A machine-independent name of a file: package-relative inside fairforget, else its file name."""
    try:
        return f"{PACKAGE}/{path.relative_to(PACKAGE_DIR).as_posix()}"
    except ValueError:
        return f"plugin:{path.name}"


def file_fingerprint(start: Path) -> dict[str, Any]:
    """{"module", "files", "sha256"} of the code path starting at `start`."""
    files = code_files(start)
    digest = hashlib.sha256()
    for path in sorted(files, key=_label):
        digest.update(f"{_label(path)}\0{source_hash(path)}\n".encode())
    return {"module": _module_name(start) or _label(start.resolve()), "files": len(files), "sha256": digest.hexdigest()}


def module_fingerprint(module: str) -> dict[str, Any]:
    """The fingerprint of a module by dotted name (a fairforget module, or an imported plug-in module)."""
    path = _package_module_file(module)
    if path is None:
        loaded = sys.modules.get(module)
        file = getattr(loaded, "__file__", None)
        if file is None:
            raise ConfigError(f"cannot fingerprint module '{module}': not a fairforget module and not imported")
        path = Path(file)
    return file_fingerprint(path)


def object_fingerprint(obj: Any) -> dict[str, Any]:
    """The fingerprint of the module that defines a registered class or function."""
    return module_fingerprint(obj.__module__)


def job_identity(components: Mapping[str, Mapping[str, Any]], pins: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A job's code identity: {"fingerprint", "components": {id: sha256}, "pinned": [ids]}.

    `components` maps component ids ("objective/cda", "stage/finetune", ...) to fingerprints; `pins` (config
    `code_pin`) replaces the fingerprint of the ids it names.
    """
    pins = pins or {}
    hashes = {cid: str(pins.get(cid, fp["sha256"])) for cid, fp in sorted(components.items())}
    pinned = sorted(cid for cid in components if cid in pins)
    return {"fingerprint": canonical_json_hash(hashes), "components": hashes, "pinned": pinned}


def fingerprint_of(identity: Mapping[str, Any] | None) -> str | None:
    """The combined fingerprint of an identity (None when the caller recorded none, e.g. a test)."""
    return None if identity is None else str(identity["fingerprint"])


def describe(identities: Iterable[tuple[str, Mapping[str, Any]]]) -> str:
    """Lines `component  sha256  module (n files)` for `fairforget code`."""
    return "\n".join(f"{cid:<34} {fp['sha256']}  {fp['module']} ({fp['files']} files)" for cid, fp in identities)
