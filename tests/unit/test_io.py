"""Reading and writing JSON and JSONL (fairforget.io): errors name the file and line; writes round trip.
Atomic writes under injected faults: tests/faults/test_io.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from fairforget.errors import DataError
from fairforget.io import json_record, read_json, read_jsonl, write_json, write_jsonl


def test_jsonl_round_trip_skips_blank_lines_and_keeps_unicode(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    records = ({"id": i, "text": f"café {i}"} for i in range(3))  # a generator is consumed as written
    assert write_jsonl(path, records) == 3
    assert "café" in path.read_text(encoding="utf-8")  # UTF-8, not \u escapes
    path.write_text(path.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert read_jsonl(path, required=("id", "text")) == [{"id": i, "text": f"café {i}"} for i in range(3)]


def test_jsonl_errors_name_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text('{"id": 1}\n{"id": \n', encoding="utf-8")
    with pytest.raises(DataError, match=r"r.jsonl:2: malformed JSON"):
        read_jsonl(path)
    path.write_text('{"id": 1}\n[1, 2]\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"r.jsonl:2: expected a JSON object, got list"):
        read_jsonl(path)
    with pytest.raises(DataError, match=r"f.jsonl:7: missing field\(s\) text, label"):
        json_record("f.jsonl", 7, '{"id": 1}', required=("id", "text", "label"))
    path.write_text("\n\n", encoding="utf-8")
    with pytest.raises(DataError, match="r.jsonl: file holds no records"):
        read_jsonl(path)


def test_json_round_trip_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    write_json(path, {"b": 1, "a": Path("p")})
    assert path.read_text(encoding="utf-8") == '{\n  "a": "p",\n  "b": 1\n}\n'  # sorted, indented, paths as text
    assert read_json(path) == {"a": "p", "b": 1}
    path.write_text('{\n  "a": 1,\n}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"x.json:3: malformed JSON"):
        read_json(path)
    with pytest.raises(DataError, match=r"absent.json: file not found"):
        read_json(tmp_path / "absent.json")
