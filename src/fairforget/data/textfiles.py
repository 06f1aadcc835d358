"""Strict reading of shipped text files: UTF-8 only, errors name the file and line."""

from __future__ import annotations

from pathlib import Path

from fairforget.errors import DataError
from fairforget.io import iter_utf8_lines


def read_lines(path: str | Path, *, allow_empty: bool = False) -> list[str]:
    """All lines of a UTF-8 text file without their line endings (line k of the file is item k-1).

    Raises DataError naming the file and line for a byte sequence that is not UTF-8, and for a missing
    or empty file (unless `allow_empty`).
    """
    path = Path(path)
    lines = [text.rstrip("\r\n") for _, text in iter_utf8_lines(path)]
    if not allow_empty and not any(line.strip() for line in lines):
        raise DataError(f"{path}: file is empty")
    return lines


def read_tsv(path: str | Path, n_columns: int, *, header: tuple[str, ...] | None = None) -> list[tuple[int, list[str]]]:
    """Rows of a tab-separated file as (line number, fields); GLUE files use no quoting.

    `header`: the expected first line (checked, then skipped); None for headerless files. Every data row must
    have exactly `n_columns` fields, else DataError naming file and line. Blank lines are skipped.
    """
    path = Path(path)
    lines = read_lines(path)
    start = 0
    if header is not None:
        found = tuple(lines[0].lstrip("\ufeff").split("\t"))
        if found != header:
            raise DataError(f"{path}:1: expected header {'|'.join(header)}, found {'|'.join(found)}")
        start = 1
    rows = []
    for index in range(start, len(lines)):
        line = lines[index]
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != n_columns:
            raise DataError(f"{path}:{index + 1}: expected {n_columns} tab-separated columns, found {len(fields)}")
        rows.append((index + 1, fields))
    if not rows:
        raise DataError(f"{path}: file holds no data rows")
    return rows
