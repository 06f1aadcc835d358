"""Large text files of the workflow as Arrow IPC files, written block by block and read memory-mapped.

A text table (`*.arrow`) is an uncompressed Arrow IPC *file* (the random-access format) of string columns,
e.g. {id, text, origin} for the debiasing corpus. It is written one record batch at a time (`write_text_table`),
so writing never holds the corpus, and opened memory-mapped (`TextTable`): opening reads the batches' metadata
only, and a row's bytes are read from the file (`os.pread` at the row's position, from the column's offsets: 8
bytes a row in memory) only when asked for. Mapped pages that were read count in RSS although they are page cache;
`TextTable.release_pages` drops them from this process (after opening, after copying offsets, and between the
chunks of a pass over a corpus). The bytes are deterministic for the same rows and pyarrow major version, so Snakemake
and the manifests' data-file hashes see the same file on a rerun.
"""

from __future__ import annotations

import mmap
import os
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]

from fairforget.errors import DataError

BLOCK_ROWS = 2000  # rows per record batch written (and per block read by `records`)


def _batch(columns: Sequence[str], rows: list[Mapping[str, Any]], schema: pa.Schema) -> pa.RecordBatch:
    return pa.record_batch(
        [pa.array([str(r[c]) for r in rows], type=pa.large_string()) for c in columns], schema=schema
    )


def write_text_table(
    path: str | Path, records: Iterable[Mapping[str, Any]], columns: Sequence[str], block: int = BLOCK_ROWS
) -> int:
    """Write `records` (mappings holding every one of `columns`, values as str) to an Arrow IPC file, `block`
    rows per record batch, atomically (a temporary file renamed at the end); returns the number of rows."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    schema = pa.schema([(c, pa.large_string()) for c in columns])
    n = 0
    try:
        with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, schema) as writer:
            rows: list[Mapping[str, Any]] = []
            for record in records:
                rows.append(record)
                if len(rows) == block:
                    writer.write_batch(_batch(columns, rows, schema))
                    n += len(rows)
                    rows = []
            if rows or n == 0:
                writer.write_batch(_batch(columns, rows, schema))
                n += len(rows)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return n


class TextTable:
    """A text table opened memory-mapped: `len`, `texts(indices)`, `records()`; columns checked at open."""

    def __init__(self, path: str | Path, required: Sequence[str] = ("text",)) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise DataError(f"{self.path}: file not found")
        with open(self.path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            # a Python mmap (not pyarrow's) so that `release_pages` can madvise it
            self._map = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) if size else None
        try:
            if self._map is None:
                raise pa.ArrowInvalid("empty file")
            self.table = pa.ipc.open_file(pa.BufferReader(pa.py_buffer(self._map))).read_all()
        except (pa.ArrowInvalid, OSError) as err:
            raise DataError(f"{self.path}: not an Arrow IPC file ({err})") from err
        self._offsets: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._fd = os.open(self.path, os.O_RDONLY)
        weakref.finalize(self, os.close, self._fd)
        missing = [c for c in required if c not in self.table.column_names]
        if missing:
            raise DataError(f"{self.path}: no column(s) {', '.join(missing)}; columns: {self.table.column_names}")
        self.release_pages()  # reading the batches' metadata mapped pages around each one

    def __len__(self) -> int:
        return self.table.num_rows

    @property
    def column_names(self) -> list[str]:
        return list(self.table.column_names)

    def texts(self, indices: np.ndarray | Sequence[int] | None = None, column: str = "text") -> list[str]:
        """The `column` values of the rows `indices` (all rows when None), in that order.

        A row's bytes are read with `os.pread` at its position in the file (from the column's offsets, copied once:
        8 bytes a row), not through the mapping: rows read in a shuffled order would otherwise map pages all over
        the file (the kernel maps the cached pages around each one), which counts in RSS. Nor with
        `ChunkedArray.take`, which copies the whole column into one array first."""
        if indices is None:
            return [str(v) for v in self.table.column(column).to_pylist()]
        rows = np.asarray(indices, dtype=np.int64)
        if not len(rows):
            return []
        if int(rows.min()) < 0 or int(rows.max()) >= len(self):
            raise IndexError(f"{self.path}: row out of range 0..{len(self) - 1}")
        starts, positions = self._positions(column)
        chunk = np.searchsorted(starts, rows, side="right") - 1
        at = rows + chunk  # each chunk contributes one extra offset (its end)
        begin, end = positions[at].tolist(), positions[at + 1].tolist()
        return [str(os.pread(self._fd, e - b, b), "utf-8") for b, e in zip(begin, end, strict=True)]

    def _positions(self, column: str) -> tuple[np.ndarray, np.ndarray]:
        """(first row of each record batch, the file position of every row's start and of each batch's end)."""
        if column not in self._offsets:
            assert self._map is not None
            base = pa.py_buffer(self._map).address
            chunks = self.table.column(column).chunks
            parts = []
            for chunk in chunks:
                if chunk.null_count:
                    raise DataError(f"{self.path}: column {column!r} holds nulls")
                _, offsets, data = chunk.buffers()
                within = np.frombuffer(offsets, dtype=np.int64)[chunk.offset : chunk.offset + len(chunk) + 1]
                parts.append(within + ((data.address - base) if data is not None else 0))
            starts = np.cumsum([0] + [len(c) for c in chunks[:-1]], dtype=np.int64)
            self._offsets[column] = (starts, np.concatenate(parts) if parts else np.zeros(1, dtype=np.int64))
            self.release_pages()  # the offsets were read through the mapping
        return self._offsets[column]

    def records(self, block: int = BLOCK_ROWS) -> Iterator[dict[str, str]]:
        """Every row as a dict, read `block` rows at a time."""
        for start in range(0, len(self), block):
            yield from self.table.slice(start, block).to_pylist()

    def release_pages(self) -> None:
        """Drop the mapped pages read so far from this process (they stay in the page cache; a later read maps
        them again), so a pass over a table larger than memory keeps RSS flat."""
        if self._map is not None and hasattr(mmap, "MADV_DONTNEED"):
            self._map.madvise(mmap.MADV_DONTNEED)


def read_text_records(path: str | Path, required: Sequence[str] = ("text",)) -> list[dict[str, str]]:
    """Every row of a (small) text table, as dicts."""
    return list(TextTable(path, required).records())


def read_records(path: str | Path) -> list[dict[str, Any]]:
    """Every record of a (small) prepared data file: a text table (`.arrow`) or JSON lines (anything else)."""
    from fairforget.io import read_jsonl

    return read_text_records(path, required=()) if Path(path).suffix == ".arrow" else read_jsonl(path)
