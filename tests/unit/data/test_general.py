"""WikiText-2 chunking: headings and blank lines skipped, word limits, stable ids, seeded caps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fairforget.data.general import chunk_paragraph, prepare_general, split_sentences, wikitext_examples
from fairforget.errors import ConfigError

RAW = """ 
 = Valkyria Chronicles III = 
 
 The game began development in 2010 . It was made by a team of ten people in Tokyo . Short one .
 
 = = Plot = = 
 
 Too short .
 A single very long sentence with many many words that goes on and on and on without any end in sight at all
"""


def test_split_and_chunk() -> None:
    assert split_sentences('It began in 2010 . It was made . " Quoted " end .') == [
        "It began in 2010 .",
        "It was made .",
        '" Quoted " end .',
    ]
    chunks = chunk_paragraph("one two three . four five six . seven eight nine ten eleven twelve .", 4, 8)
    assert chunks == ["one two three . four five six .", "seven eight nine ten eleven twelve ."]
    long = " ".join(f"w{i}" for i in range(20))
    assert [len(c.split()) for c in chunk_paragraph(long, 4, 8)] == [8, 8, 4]
    assert chunk_paragraph("a b c", 4, 8) == []


def test_wikitext_examples_skip_headings_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "wiki.raw"
    path.write_text(RAW, encoding="utf-8")
    records = wikitext_examples(path, "valid", 4, 12)
    assert [r["id"] for r in records] == [f"wikitext-valid-{i:06d}" for i in range(len(records))]
    assert all("=" not in r["text"] for r in records)
    # "Short one ." (3 words) and "Too short ." fall below min_words; the 23-word sentence is cut at 12
    assert [r["text"] for r in records[:2]] == [
        "The game began development in 2010 .",
        "It was made by a team of ten people in Tokyo .",
    ]
    assert [len(r["text"].split()) for r in records[2:]] == [12, 11]
    assert {r["line"] for r in records} == {4, 9}
    assert all(4 <= len(r["text"].split()) <= 12 for r in records)
    with pytest.raises(ConfigError, match="min_words"):
        wikitext_examples(path, "valid", 10, 5)


def test_prepare_general_caps_with_a_recorded_seed(tmp_path: Path) -> None:
    valid, test = tmp_path / "wiki.valid.raw", tmp_path / "wiki.test.raw"
    paragraphs = "\n".join(f" Sentence number {i} has exactly seven words ." for i in range(30))
    valid.write_text(paragraphs, encoding="utf-8")
    test.write_text(paragraphs.replace("Sentence", "Held"), encoding="utf-8")
    settings = {"min_words": 4, "max_words": 10, "pretrain_max_examples": None, "heldout_max_examples": 5}
    meta = prepare_general(valid, test, tmp_path / "p.jsonl", tmp_path / "h.jsonl", tmp_path / "m.json", settings, 3)
    held = [json.loads(line) for line in (tmp_path / "h.jsonl").read_text().splitlines()]
    assert len(held) == 5 and meta["heldout"]["n_available"] == 30 and meta["seed"] == 3
    assert [r["id"] for r in held] == sorted(r["id"] for r in held)  # kept in file order
    assert meta["pretrain"]["n"] == 30
    other = prepare_general(
        valid, test, tmp_path / "p2.jsonl", tmp_path / "h2.jsonl", tmp_path / "m2.json", settings, 4
    )
    assert other["heldout"]["n"] == 5
    assert (tmp_path / "h.jsonl").read_bytes() != (tmp_path / "h2.jsonl").read_bytes()
    with pytest.raises(ConfigError, match=r"data\.general\.heldout_max_examples"):
        prepare_general(
            valid, test, tmp_path / "x", tmp_path / "y", tmp_path / "z", {**settings, "heldout_max_examples": 0}, 0
        )
