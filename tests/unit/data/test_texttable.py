"""Arrow text tables (fairforget.data.texttable): written in blocks, read back by row in any order across block
boundaries, columns checked at open, errors naming the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from fairforget.data.texttable import TextTable, read_text_records, write_text_table
from fairforget.errors import DataError


def table(tmp_path: Path, n: int = 7, block: int = 3) -> Path:
    path = tmp_path / "t.arrow"
    records = ({"text": f"text {i} é", "origin": "general" if i % 2 else "debias"} for i in range(n))
    assert write_text_table(path, records, ["text", "origin"], block=block) == n
    return path


def test_rows_in_any_order_across_block_boundaries(tmp_path: Path) -> None:
    opened = TextTable(table(tmp_path), required=("text", "origin"))
    assert len(opened) == 7 and opened.column_names == ["text", "origin"]
    # blocks of 3 rows: rows 2, 3 and 6 sit in three different record batches
    assert opened.texts([6, 2, 3, 2]) == ["text 6 é", "text 2 é", "text 3 é", "text 2 é"]
    assert opened.texts([1, 4], column="origin") == ["general", "debias"]
    assert opened.texts() == [f"text {i} é" for i in range(7)] and opened.texts([]) == []
    with pytest.raises(IndexError, match="row out of range 0..6"):
        opened.texts([7])


def test_records_and_an_empty_table(tmp_path: Path) -> None:
    assert read_text_records(table(tmp_path, n=4))[3] == {"text": "text 3 é", "origin": "general"}
    empty = tmp_path / "empty.arrow"
    assert write_text_table(empty, [], ["text"]) == 0
    assert len(TextTable(empty)) == 0


def test_a_missing_column_or_a_file_that_is_not_arrow_names_the_file(tmp_path: Path) -> None:
    path = table(tmp_path)
    with pytest.raises(DataError, match=r"t.arrow: no column\(s\) label; columns: \['text', 'origin'\]"):
        TextTable(path, required=("text", "label"))
    bad = tmp_path / "bad.arrow"
    bad.write_text("not arrow", encoding="utf-8")
    with pytest.raises(DataError, match="bad.arrow: not an Arrow IPC file"):
        TextTable(bad)
    with pytest.raises(DataError, match="absent.arrow: file not found"):
        TextTable(tmp_path / "absent.arrow")
