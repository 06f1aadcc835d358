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
- Constants are hashed by value, not by where they live: a module-level `NAME = <constant expression>`
  (literals, containers of them, f-strings and `+` of earlier constants, constants imported from another
  package module) leaves its file's syntax tree, and so does an import of package constants; the constants
  that the code path's code refers to (by name or as an attribute; a constant used only to define another
  counts through that one's value) enter its fingerprint once, as one pool of (name, value) pairs. Moving a
  constant (a path template, say) from one module to another, adding one no code on the path uses, or writing
  the same value another way, plans nothing; changing a used value or name does. (A constant read only by a
  computed name, `getattr(module, name)`, is not seen: refer to it by name.)
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


class _NotConstant(Exception):
    """An expression whose value is not known without running code."""


class _Namespace(dict):
    """The constants of a package module bound to a name (`from fairforget import paths`): `paths.X` is one."""


def _constant(node: ast.AST, env: Mapping[str, Any]) -> Any:
    """The JSON-able value of a constant expression, or _NotConstant."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str | int | float | bool | type(None)):
        return node.value
    if isinstance(node, ast.Name) and node.id in env and not isinstance(env[node.id], _Namespace):
        return env[node.id]
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        namespace = env.get(node.value.id)
        if isinstance(namespace, _Namespace) and node.attr in namespace:
            return namespace[node.attr]
    if isinstance(node, ast.Tuple | ast.List):
        return [_constant(item, env) for item in node.elts]
    if isinstance(node, ast.Dict) and None not in node.keys:
        keys = [_constant(key, env) for key in node.keys if key is not None]
        if all(isinstance(key, str) for key in keys):
            return dict(zip(keys, (_constant(value, env) for value in node.values), strict=True))
    if isinstance(node, ast.JoinedStr):
        return "".join(str(_constant(part, env)) for part in node.values)
    if isinstance(node, ast.FormattedValue) and node.conversion == -1 and node.format_spec is None:
        return _constant(node.value, env)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _constant(node.left, env), _constant(node.right, env)
        if type(left) is type(right) and isinstance(left, str | list):
            return left + right
    raise _NotConstant


def _assigned_name(node: ast.stmt) -> tuple[str, ast.expr] | None:
    if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
        return node.targets[0].id, node.value
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
        return node.target.id, node.value
    return None


def _imports_package_constants(node: ast.stmt) -> bool:
    """`from fairforget.<module on code paths> import ...` (whether the names are constants is checked after)."""
    if not isinstance(node, ast.ImportFrom) or node.level != 0:
        return False
    module = node.module or ""
    return module.startswith(PACKAGE + ".") and not _excluded(module)


def _imported_modules(node: ast.stmt) -> dict[str, _Namespace]:
    """Package modules a top-level import binds to a name (`from fairforget import paths`, `import
    fairforget.paths as paths`), as the namespaces of their constants."""
    bound: dict[str, str] = {}
    if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith(PACKAGE):
        bound = {alias.asname or alias.name: f"{node.module}.{alias.name}" for alias in node.names}
    elif isinstance(node, ast.Import):
        bound = {alias.asname: alias.name for alias in node.names if alias.asname}
    found = {}
    for name, module in bound.items():
        source = _package_module_file(module)
        if source is not None and not _excluded(module) and source.resolve() not in _READING:
            found[name] = _Namespace(module_constants(source))
    return found


@cache
def _constants_and_code(path: Path, stamp: tuple[int, int]) -> tuple[dict[str, Any], str, frozenset[str]]:
    """(the module's constants by name, the hash of its syntax tree without them and without imports of
    package constants, the names that tree refers to); `stamp` as for `_parsed`."""
    _READING.add(path)
    try:
        return _read_constants_and_code(path)
    finally:
        _READING.discard(path)


_READING: set[Path] = set()  # files whose constants are being read (import cycles)


def _read_constants_and_code(path: Path) -> tuple[dict[str, Any], str, frozenset[str]]:
    tree = _strip_docstrings(ast.parse(path.read_text(encoding="utf-8")))
    assert isinstance(tree, ast.Module)
    module = _module_name(path)
    env: dict[str, Any] = {}
    constants: dict[str, Any] = {}
    body: list[ast.stmt] = []
    for node in tree.body:
        if _imports_package_constants(node):
            assert isinstance(node, ast.ImportFrom)
            source = _package_module_file(node.module or "")
            # (a module in an import cycle with this one is read as having no constants: no endless recursion)
            imported = module_constants(source) if source is not None and source.resolve() not in _READING else {}
            if all(alias.name in imported for alias in node.names):
                env.update({alias.asname or alias.name: imported[alias.name] for alias in node.names})
                continue
        env.update(_imported_modules(node))
        assigned = _assigned_name(node)
        if assigned is not None and module != f"{PACKAGE}.code_identity":
            name, value = assigned
            try:
                env[name] = constants[name] = _constant(value, env)
                continue
            except _NotConstant:
                env.pop(name, None)
        body.append(node)
    tree.body = body
    referenced = frozenset(
        node.id if isinstance(node, ast.Name) else node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Name | ast.Attribute)
    )
    return constants, hashlib.sha256(ast.dump(tree, include_attributes=False).encode()).hexdigest(), referenced


def module_constants(path: Path) -> dict[str, Any]:
    """The module's constants by name (hashed by value on every code path it is on)."""
    stat = path.stat()
    return _constants_and_code(path.resolve(), (stat.st_mtime_ns, stat.st_size))[0]


def referenced_names(path: Path) -> frozenset[str]:
    """Names and attributes the file's code (its constants' definitions left out) refers to."""
    stat = path.stat()
    return _constants_and_code(path.resolve(), (stat.st_mtime_ns, stat.st_size))[2]


def code_hash(path: Path) -> str:
    """sha256 of the file's syntax tree without docstrings, constants and imports of package constants."""
    stat = path.stat()
    return _constants_and_code(path.resolve(), (stat.st_mtime_ns, stat.st_size))[1]


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


def _imports_of(path: Path) -> tuple[str, ...]:
    """`_imported` of a file, memoised like its tree: each fingerprint of a workflow walks mostly the same files
    (about 20 code paths over 100 modules on every parse-time code-identity computation)."""
    stat = path.stat()
    return _imports_memo(path.resolve(), (stat.st_mtime_ns, stat.st_size))


@cache
def _imports_memo(path: Path, stamp: tuple[int, int]) -> tuple[str, ...]:
    return tuple(_imported(_tree(path), _module_name(path), path.name == "__init__.py"))


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
        for name in _imports_of(path):
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
    # the constants the code path's code refers to (by name or as an attribute), by value
    referenced = frozenset().union(*(referenced_names(path) for path in files))
    pool: list[tuple[str, str]] = []
    for path in sorted(files, key=_label):
        digest.update(f"{_label(path)}\0{code_hash(path)}\n".encode())
        constants = module_constants(path).items()
        pool.extend((name, canonical_json_hash(value)) for name, value in constants if name in referenced)
    digest.update(f"constants\0{canonical_json_hash(sorted(pool))}\n".encode())
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
