"""Bad input files of every format a user can hand the workflow: each error names the file and the line.

Completes tests/faults/test_bad_input.py (which covers the GLUE TSVs and the CrowS/WinoBias/StereoSet structure)
with the cases it leaves out: non-UTF-8 bytes and empty files in the CSV, JSONL and plain-text readers, and
the user's own debiasing corpus (a local `data.debias.corpus` file, JSONL or text, read through 🤗 datasets after
the strict check of fairforget.data.corpus.validate_local).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from fairforget.data.cda import load_word_pairs
from fairforget.data.corpus import CorpusSpec, load_chunks
from fairforget.data.probes import (
    load_crows_pairs,
    load_stereoset_intrasentence,
    load_winobias_pairs,
)
from fairforget.errors import DataError
from fairforget.io import read_jsonl

CROWS_HEADER = ",sent_more,sent_less,stereo_antistereo,bias_type,annotations,anon_writer,anon_annotators\n"
CROWS_ROW = "0,He is strong.,She is strong.,stereo,gender,[],a,[]\n"
STEREOSET_ROW = (
    '{"type": "intrasentence", "target": "chess player", "bias_type": "gender", '
    '"context": "The chess player was BLANK.", "stereotype": "he", "anti-stereotype": "she", '
    '"unrelated": "fish"}\n'
)
PRO = "1 [The chief] left because [he] was ill.\n"


def _extra(path: Path) -> list:
    return list(load_chunks(CorpusSpec(kind="local", location=str(path)), min_words=1, max_words=50))


def _crows(path: Path) -> list:
    return load_crows_pairs(path, ["gender"])


def _stereoset(path: Path) -> list:
    return load_stereoset_intrasentence(path, ["gender"])


def _winobias_anti(path: Path) -> list:
    pro = path.with_name("pro.txt")
    pro.write_text(PRO)
    return load_winobias_pairs(pro, path, "test", 1)


CASES: list[tuple[str, Callable[[Path], list], str, bytes, str]] = [
    # (case id, reader, file name, content, expected message)
    (
        "corpus-jsonl-missing-field",
        _extra,
        "corpus.jsonl",
        b'{"id": "a", "text": "t"}\n{"id": "b"}\n',
        r"corpus\.jsonl:2: missing field\(s\) text",
    ),
    (
        "corpus-jsonl-malformed-row",
        _extra,
        "corpus.jsonl",
        b'{"id": "a", "text": "t"}\n{"id": "b", "text": \n',
        r"corpus\.jsonl:2: malformed JSON",
    ),
    ("corpus-jsonl-not-an-object", _extra, "corpus.jsonl", b'["a", "t"]\n', r"corpus\.jsonl:1: expected a JSON object"),
    (
        "corpus-jsonl-non-utf8",
        _extra,
        "corpus.jsonl",
        b'{"id": "a", "text": "t"}\n\n{"id": "b", "text": "\xff"}\n',
        r"corpus\.jsonl:3: not valid UTF-8 \(invalid start byte at byte 21 of the line\)",
    ),
    ("corpus-jsonl-empty", _extra, "corpus.jsonl", b"\n\n", r"corpus\.jsonl: file holds no records"),
    (
        "corpus-jsonl-bom",
        _extra,
        "corpus.jsonl",
        '\ufeff{"id": "a", "text": "t"}\n'.encode(),
        r"corpus\.jsonl:1: malformed JSON \(Unexpected UTF-8 BOM",
    ),
    (
        "corpus-text-non-utf8",
        _extra,
        "corpus.txt",
        b"fine words here\nbad \xe9 byte\n",
        r"corpus\.txt:2: not valid UTF-8",
    ),
    ("corpus-text-empty", _extra, "corpus.txt", b"", r"corpus\.txt: file is empty"),
    (
        "crows-csv-non-utf8",
        _crows,
        "crows.csv",
        (CROWS_HEADER + CROWS_ROW + "1,caf\xe9 owner,y,stereo,gender,[],a,[]\n").encode("latin-1"),
        r"crows\.csv:3: not valid UTF-8",
    ),
    ("crows-csv-empty", _crows, "crows.csv", b"", r"crows\.csv: file is empty"),
    ("crows-csv-header-only", _crows, "crows.csv", CROWS_HEADER.encode(), r"crows\.csv: no rows with bias_type"),
    (
        "stereoset-jsonl-non-utf8",
        _stereoset,
        "ss.jsonl",
        STEREOSET_ROW.encode() + b'{"type": "\xff"}\n',
        r"ss\.jsonl:2: not valid UTF-8",
    ),
    ("stereoset-jsonl-empty", _stereoset, "ss.jsonl", b"", r"ss\.jsonl: file is empty"),
    (
        "stereoset-identical-candidates",
        _stereoset,
        "ss.jsonl",
        STEREOSET_ROW.replace('"she"', '"he"').encode(),
        r"ss\.jsonl:1: the three candidate sentences are not all different",
    ),
    (
        "winobias-non-utf8",
        _winobias_anti,
        "anti.txt",
        b"1 [The chief] left because [sh\xe9] was ill.\n",
        r"anti\.txt:1: not valid UTF-8",
    ),
    ("winobias-empty", _winobias_anti, "anti.txt", b"", r"anti\.txt: file is empty"),
]


@pytest.mark.parametrize(
    ("reader", "name", "content", "message"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_bad_file_names_file_and_line(tmp_path: Path, reader, name: str, content: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError, match=message) as raised:
        reader(path)
    assert str(path) in str(raised.value)  # the full path, so the user finds the file


def test_missing_file_is_named(tmp_path: Path) -> None:
    for reader in (_extra, _crows, _stereoset, read_jsonl):
        with pytest.raises(DataError, match=rf"{tmp_path / 'nope.jsonl'}: file not found"):
            reader(tmp_path / "nope.jsonl")


def test_word_list_with_bad_bytes_or_shape_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "cda"
    folder.mkdir()
    path = folder / "bias_attribute_words.json"
    path.write_bytes(b'[["he", "sh\xe9"]]')
    with pytest.raises(DataError, match=rf"{path}: not valid UTF-8"):
        load_word_pairs(["bias_attribute_words"], folder)
    path.write_text('{"no_pairs_here": []}')
    with pytest.raises(DataError, match=rf"{path}: expected"):
        load_word_pairs(["bias_attribute_words"], folder)
