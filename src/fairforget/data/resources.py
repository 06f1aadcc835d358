"""Where the shipped data files live, and their checksums (resources/SHA256SUMS).

The workflow reads only `resources/data/` of this repository (copies of openly licensed files, each folder
with its SOURCE.md), never a shared folder outside it. `FAIRFORGET_RESOURCES` points elsewhere (a folder laid
out like resources/data, with SHA256SUMS in its parent) for tests or a relocated install.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from fairforget.errors import DataError
from fairforget.hashing import sha256_file

ENV_VAR = "FAIRFORGET_RESOURCES"
SUMS_NAME = "SHA256SUMS"


def resources_dir() -> Path:
    """The folder holding the shipped data (`<repo>/resources/data` unless FAIRFORGET_RESOURCES is set)."""
    override = os.environ.get(ENV_VAR)
    if override:
        return Path(override)
    # src/fairforget/data/resources.py -> repo root is four levels up
    return Path(__file__).resolve().parents[3] / "resources" / "data"


def sums_path(data_dir: Path | None = None) -> Path:
    """resources/SHA256SUMS: paths in it are relative to resources/ (e.g. `data/glue/RTE/dev.tsv`)."""
    return (data_dir or resources_dir()).parent / SUMS_NAME


def read_sums(path: Path) -> dict[str, str]:
    """Parse a `sha256sum`-format file into {relative path: hex digest}."""
    if not path.is_file():
        raise DataError(f"{path}: checksum file not found")
    sums = {}
    for line_number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64 or not name:
            raise DataError(f"{path}:{line_number}: expected '<sha256>  <path>', found {line!r}")
        sums[name.lstrip("*")] = digest
    return sums


def write_sums(data_dir: Path | None = None) -> Path:
    """(Re)write SHA256SUMS for every file under the data folder; run after adding or editing a resource."""
    data_dir = data_dir or resources_dir()
    root = data_dir.parent
    files = sorted(p for p in data_dir.rglob("*") if p.is_file())
    lines = [f"{sha256_file(p)}  {p.relative_to(root).as_posix()}\n" for p in files]
    out = sums_path(data_dir)
    out.write_text("".join(lines), encoding="utf-8")
    return out


def verify_resources(paths: Iterable[str | Path] | None = None, data_dir: Path | None = None) -> int:
    """Check shipped files against SHA256SUMS; returns how many were checked.

    `paths`: files to check (relative to resources/, or absolute inside it); None checks every listed file.
    A missing file, a file not listed, or a checksum mismatch raises DataError naming the file.
    """
    data_dir = data_dir or resources_dir()
    root = data_dir.parent
    sums_file = sums_path(data_dir)
    sums = read_sums(sums_file)
    if paths is None:
        names = sorted(sums)
    else:
        names = []
        for path in paths:
            path = Path(path)
            inside = path.resolve().relative_to(root.resolve()) if path.is_absolute() else path
            names.append(inside.as_posix())
    for name in names:
        if name not in sums:
            raise DataError(f"{root / name}: not listed in {sums_file}")
        file = root / name
        if not file.is_file():
            raise DataError(f"{file}: shipped data file is missing (listed in {sums_file})")
        actual = sha256_file(file)
        if actual != sums[name]:
            raise DataError(
                f"{file}: checksum mismatch (expected {sums[name]}, found {actual}); "
                f"the file was changed - restore it or rerun write_sums() if the change is intended"
            )
    return len(names)


def verify_shipped_inputs(files: Iterable[str | Path], data_dir: Path | None = None) -> int:
    """Check a rule's inputs that are shipped data (inside the shipped data folder) against SHA256SUMS before they
    are prepared, so an edited resource fails naming the file instead of being used unnoticed; inputs outside that
    folder (a user's own corpus) are not checked. Returns how many were checked."""
    data_dir = data_dir or resources_dir()
    inside = data_dir.resolve()
    shipped = [Path(file).resolve() for file in files if Path(file).resolve().is_relative_to(inside)]
    return verify_resources(shipped, data_dir) if shipped else 0
