"""Strict reading of shipped text files (fairforget.data.textfiles): line endings, errors naming file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from fairforget.data.textfiles import read_lines, read_tsv
from fairforget.errors import DataError


def test_lines_without_their_endings(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(b"one\r\ntwo\n\nthree")
    assert read_lines(path) == ["one", "two", "", "three"]


def test_an_empty_or_blank_file_is_refused_unless_allowed(tmp_path: Path) -> None:
    path = tmp_path / "blank.txt"
    path.write_text(" \n\n", encoding="utf-8")
    with pytest.raises(DataError, match="blank.txt: file is empty"):
        read_lines(path)
    assert read_lines(path, allow_empty=True) == [" ", ""]


def test_bytes_that_are_not_utf8_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"fine\ncaf\xe9\n")
    with pytest.raises(DataError, match=r"latin1.txt:2: not valid UTF-8 .* at byte 3 of the line"):
        read_lines(path)


def test_tsv_rows_with_their_line_numbers_after_the_header(tmp_path: Path) -> None:
    path = tmp_path / "t.tsv"
    path.write_text("\ufeffsentence\tlabel\nit is good\t1\n\nbad\t0\n", encoding="utf-8")
    assert read_tsv(path, 2, header=("sentence", "label")) == [(2, ["it is good", "1"]), (4, ["bad", "0"])]


def test_tsv_errors_name_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "t.tsv"
    path.write_text("a\tb\nx\ty\tz\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"t.tsv:1: expected header sentence\|label, found a\|b"):
        read_tsv(path, 2, header=("sentence", "label"))
    with pytest.raises(DataError, match=r"t.tsv:2: expected 2 tab-separated columns, found 3"):
        read_tsv(path, 2)
    path.write_text("sentence\tlabel\n", encoding="utf-8")
    with pytest.raises(DataError, match="t.tsv: file holds no data rows"):
        read_tsv(path, 2, header=("sentence", "label"))
